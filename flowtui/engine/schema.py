"""JSON Schema validation with located, human messages.

The schemas under `schemas/` are the source of truth. Importing jsonschema costs ~70 ms, as much as
the whole headless cold-start budget (3x `python -c pass`), so a small interpreter of exactly the
keywords our schemas use (`conforms`) accepts a valid document first; jsonschema runs only to word the
errors of a document it rejects, or when a schema uses a keyword it does not implement. The digest of
every text that validated is remembered under the state dir, so an unchanged large file is not walked twice.
"""

import json
import os
import re

SCHEMA_DIR = os.path.join(os.path.dirname(__file__), "schemas")
_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "boolean": "true or false",
               "integer": "an integer", "number": "a number"}
# Draft 2020-12's type predicates as jsonschema applies them: bool is not a number, 1.0 is an integer.
_IS_TYPE = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}
_KEYWORDS = frozenset({"type", "properties", "additionalProperties", "items", "required", "pattern", "minLength",
                       "$ref", "$defs", "title", "description", "x-message"})
_ROOT_KEYWORDS = _KEYWORDS | {"$schema", "$id"}  # elsewhere `$id` would change what a `$ref` means


def load_schema(name) -> dict:
    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as handle:
        return json.load(handle)


def schema_digest(name) -> str:
    from .sha import file_sha256

    return file_sha256(os.path.join(SCHEMA_DIR, f"{name}.schema.json"))[:16]


def _marker(cache_dir, name, digest):
    return os.path.join(cache_dir, "validated", f"{name}-{schema_digest(name)}-{digest}")


def validate(name, data, *, digest=None, cache_dir=None):
    """Errors as [(path, message)]; [] when valid. `digest` + `cache_dir` enable the cache."""
    marker = _marker(cache_dir, name, digest) if cache_dir and digest else None
    if marker and os.path.exists(marker):
        return []
    schema = load_schema(name)
    if unsupported(schema) or not conforms(schema, data, schema):
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
        problems = [problem for error in validator.iter_errors(data) for problem in _explain(error)]
    else:
        problems = []
    if not problems and marker:
        try:
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass  # a cache that cannot be written only costs time
    return problems


def unsupported(schema, root=None) -> set:
    """What in `schema` `conforms` does not implement; only when empty is its verdict jsonschema's."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return {f"{type(schema).__name__} schema"}
    found = set(schema) - (_ROOT_KEYWORDS if schema is root else _KEYWORDS)
    types = schema.get("type", [])
    found |= {f"type {t!r}" for t in ([types] if isinstance(types, str) else types) if t not in _IS_TYPE}
    if "$ref" in schema and _resolve(root, schema["$ref"]) is None:
        found.add(f"$ref {schema['$ref']!r}")
    subschemas = [*schema.get("properties", {}).values(), *schema.get("$defs", {}).values()]
    subschemas += [schema[key] for key in ("items", "additionalProperties") if key in schema]
    for sub in subschemas:
        found |= unsupported(sub, root)
    return found


def _resolve(root, ref):
    """The subschema a local `#/$defs/NAME` names; None for any other reference."""
    name = ref.removeprefix("#/$defs/")
    if name == ref or any(c in name for c in "/~%"):  # JSON Pointer / URI escapes: not ours
        return None
    return root.get("$defs", {}).get(name)


def conforms(schema, value, root) -> bool:
    """Whether `value` is valid against `schema` (Draft 2020-12), for a schema `unsupported` accepts."""
    if "$ref" in schema and not conforms(_resolve(root, schema["$ref"]), value, root):
        return False
    types = schema.get("type")
    if types is not None and not any(_IS_TYPE[t](value) for t in ([types] if isinstance(types, str) else types)):
        return False
    if isinstance(value, str):
        pattern = schema.get("pattern")
        return len(value) >= schema.get("minLength", 0) and (pattern is None or re.search(pattern, value) is not None)
    if isinstance(value, list):
        items = schema.get("items")
        return items is None or all(conforms(items, item, root) for item in value)
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        if any(key not in value for key in schema.get("required", ())):
            return False
        for key, item in value.items():
            sub = properties[key] if key in properties else extra
            if sub is not None and not conforms(sub, item, root):
                return False
    return True


def _explain(error):
    """Turn one jsonschema error (possibly a oneOf/anyOf tree) into [(path, message)]."""
    path = tuple(error.absolute_path)
    key = path[-1] if path and isinstance(path[-1], str) else None
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [(path, f"missing required key `{k}`") for k in missing]
    if custom:
        return [(path, custom.format(value=error.instance, key=key))]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        what = f"`{key}`" if key is not None else "this value"
        return [(path, f"{what} must be {expected}")]
    return [(path, error.message)]

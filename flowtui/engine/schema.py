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
    if unsupported(schema):
        problems = _worded(schema, data)
    elif not conforms(schema, data, schema):
        problems = _worded(schema, *_pruned(schema, data, schema), original=data)
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


def _worded(schema, data, back=None, original=None):
    """jsonschema's errors for `data` as [(path, message)]; with `back`, `data` was cut from
    `original`: each path is turned back into the original's, and the value a message quotes is
    the original's."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        instance = error.instance
        if back is not None:
            path = back(path)
            instance = original
            for step in path:
                instance = instance[step]
        problems += _explain(error, path, instance)
    return problems


def _same(path):
    return path


def _pruned(schema, value, root):
    """`value` cut down to what does not conform to `schema` (a list's items renumbered), and the
    function turning a path in it back into one in `value`: jsonschema then walks only what is
    wrong, not a whole large document, to word its errors. The keywords `conforms` knows judge each
    child on its own, so what is cut adds no error and hides none; required keys stay."""
    own = _structure(schema, root)
    if own is None:
        return value, _same
    if isinstance(value, list) and own.get("items") is not None:
        items = own["items"]
        kept = [(index, *_pruned(items, item, root)) for index, item in enumerate(value) if not conforms(items, item, root)]
        return [item for _, item, _ in kept], lambda path: path and (kept[path[0]][0], *kept[path[0]][2](path[1:]))
    if isinstance(value, dict):
        properties, extra, required = own.get("properties", {}), own.get("additionalProperties"), own.get("required", ())
        kept, backs = {}, {}
        for key, item in value.items():
            sub = properties[key] if key in properties else extra
            if sub is not None and not conforms(sub, item, root):
                kept[key], backs[key] = _pruned(sub, item, root)
            elif key in required:
                kept[key] = item
        return kept, lambda path: path and (path[0], *backs.get(path[0], _same)(path[1:]))
    return value, _same


def _structure(schema, root):
    """The schema whose `items`/`properties` judge a value's children: `schema`, or the one its
    `$ref` names when it has none of its own; None when both have some (not cut there)."""
    shaped = ("properties", "additionalProperties", "items")
    while "$ref" in schema and not any(key in schema for key in shaped):
        schema = _resolve(root, schema["$ref"])
    if "$ref" in schema and any(key in _resolve(root, schema["$ref"]) for key in shaped):
        return None
    return schema


def _explain(error, path, instance):
    """Turn one jsonschema error, about `instance` at `path`, into [(path, message)]."""
    key = path[-1] if path and isinstance(path[-1], str) else None
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return [(path, f"missing required key `{k}`") for k in missing]
    if custom:
        return [(path, custom.format(value=instance, key=key))]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        what = f"`{key}`" if key is not None else "this value"
        return [(path, f"{what} must be {expected}")]
    return [(path, error.message)]

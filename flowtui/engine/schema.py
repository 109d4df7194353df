"""JSON Schema validation with located, human messages.

The schemas under `schemas/` are the source of truth. jsonschema costs ~90 ms to import, three
times the whole headless cold-start budget, so a content digest of every text that validated is
remembered under the state dir; an unchanged file is not validated twice.
"""

import json
import os

SCHEMA_DIR = os.path.join(os.path.dirname(__file__), "schemas")
_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "boolean": "true or false",
               "integer": "an integer", "number": "a number"}


def load_schema(name) -> dict:
    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as handle:
        return json.load(handle)


def schema_digest(name) -> str:
    import hashlib

    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


def _marker(cache_dir, name, digest):
    return os.path.join(cache_dir, "validated", f"{name}-{schema_digest(name)}-{digest}")


def validate(name, data, *, digest=None, cache_dir=None):
    """Errors as [(path, message)]; [] when valid. `digest` + `cache_dir` enable the cache."""
    marker = _marker(cache_dir, name, digest) if cache_dir and digest else None
    if marker and os.path.exists(marker):
        return []
    import jsonschema

    schema = load_schema(name)
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(data):
        problems.extend(_explain(error))
    if not problems and marker:
        try:
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass  # a cache that cannot be written only costs time
    return problems


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

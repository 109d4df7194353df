"""Fluxor's expander: `$x`, `${expr}` and text interpolation in inputs, init, post and selectors.

Rules follow Go's `Expand` (spec §3.2): a pure `$path` keeps its type and stays literal when it
does not resolve; a pure `${expr}` keeps its type and gives "" when it does not resolve; in mixed
text every `${expr}` and `$path` is replaced by its text. Text inside `${ }` that is no expression
(bash's `${VAR:-x}`, `${F%.txt}`) is looked up as a name, so it usually gives "" (spec §3.4 step 5).
Extensions (docs/fluxor.md): the inside of `${ }` is trimmed and is a full expression
(`${ $.task.field }` reads from the session root); a trailing `.` after `$name` is punctuation;
`$path[0]` may index in text.
"""

import re

from .expr import ExprError, evaluate
from .values import MISSING, lookup, split_path, stringify

_PURE_VAR = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_.\[\]]*$")
_BRACED = re.compile(r"\$\{([^{}]+)\}")
_TEXT_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[\d+\])*)")


def expand(value, scope):
    """Deep-expand maps, lists and strings; a map key expanding to a non-string drops its entry."""
    if isinstance(value, str):
        return expand_text(value, scope) if "$" in value else value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and "$" in key:
                key = expand_text(key, scope)
                if not isinstance(key, str):
                    continue
            out[key] = expand(item, scope)
        return out
    if isinstance(value, list):
        return [expand(item, scope) for item in value]
    return value


def _closing(text, brace):
    """Index of the `}` matching the `{` at index `brace`, or -1."""
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _braced(inner, scope):
    inner = inner.strip()
    if not inner:
        return MISSING
    parts = split_path(inner)
    if parts is not None and not inner.startswith("$") and all(
        isinstance(p, int) or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts
    ):
        return lookup(scope, parts)
    try:
        return evaluate(inner, scope)
    except (ExprError, ValueError, TypeError) as exc:
        raise ExprError(f"${{{inner}}}: {exc}") from None


def expand_text(text, scope):
    """Expand one string; raises ExprError for a `${...}` that cannot be evaluated (`${1 / 0}`)."""
    if _PURE_VAR.match(text):
        parts = split_path(text[1:].rstrip("."))
        value = lookup(scope, parts) if parts else MISSING
        return text if value is MISSING else value
    if text.startswith("${") and _closing(text, 1) == len(text) - 1:
        value = _braced(text[2:-1], scope)
        return "" if value is MISSING else value
    out, pos = [], 0
    while True:
        start = text.find("${", pos)
        end = _closing(text, start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            rest = text[pos:]
            if start >= 0:  # an unmatched `${`: the plain `${name}` tokens after it still expand (§3.2 3b)
                rest = _BRACED.sub(lambda m: stringify(_braced(m.group(1), scope)), rest)
            out.append(_text_vars(rest, scope))
            return "".join(out)
        out.append(_text_vars(text[pos:start], scope))
        out.append(stringify(_braced(text[start + 2:end], scope)))
        pos = end + 1


def _text_vars(text, scope):
    if "$" not in text:
        return text

    def replace(match):
        value = lookup(scope, split_path(match.group(1)))
        if value is MISSING or isinstance(value, (dict, list)):
            return match.group(0)
        return stringify(value)

    return _TEXT_VAR.sub(replace, text)

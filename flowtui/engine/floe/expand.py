"""Workspace and environment expansion of exec/fetch strings (§9.2, config/nodetype/exec.go).

Floe expands `$NAME` / `${NAME}` itself, from its own process environment and with Go 1.10's
`os.ExpandEnv` rules: a `$` not followed by a name is dropped and unset names become "".
"""

import os

_SPECIAL = set("*#$@!?0123456789")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def expand_vars(text, env=None):
    """Go 1.10 `os.ExpandEnv`."""
    env = os.environ if env is None else env
    out, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "{":
            end = text.find("}", i + 2)
            if end < 0:  # unterminated: Go eats the "$" and the "{", the rest stays
                i += 2
                continue
            out.append(env.get(text[i + 2:end], "") if end > i + 2 else "")
            i = end + 1
        elif nxt in _SPECIAL:
            out.append(env.get(nxt, ""))
            i += 2
        else:
            name, i = _word(text, i + 1)
            if name:
                out.append(env.get(name, ""))
    return "".join(out)


def _word(text, start):
    end = start
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return text[start:end], end


def expand_ws(text, ws, *, env_vars=True):
    """`{{ws}}` becomes the workspace (`a/{{ws}}` does not double the slash), then `$VAR`."""
    text = text.replace("/{{ws}}", "{{ws}}").replace("{{ws}}", ws)
    return expand_vars(text) if env_vars else text


def expand_ws_dot(text, ws, *, env_vars=True):
    """Also `.` alone and a leading `./` (but not `./...`) mean the workspace."""
    if text == "":
        return text
    if text == ".":
        text = "{{ws}}"
    elif text.startswith("./") and not text.startswith("./..."):
        text = text.replace("./", "{{ws}}/", 1)
    return expand_ws(text, ws, env_vars=env_vars)


def expand_env(text, ws, *, env_vars=True):
    """A `K=V` string (exactly one `=`) expands only V; anything else expands whole."""
    parts = text.split("=")
    if len(parts) == 2:
        return parts[0] + "=" + expand_ws_dot(parts[1], ws, env_vars=env_vars)
    return expand_ws_dot(text, ws, env_vars=env_vars)

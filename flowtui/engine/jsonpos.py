"""Line and column of every value and key in a JSON text, by path.

`json.loads` is fast but forgets positions; errors must point at the offending value, so on the
error path the (already valid) text is scanned once more to map paths to positions.
"""

import re

_WS = " \t\r\n"
# Every escape, so that `\\u` (an escaped backslash, then `u`) is never read as a `\u` escape.
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def lone_surrogates(text):
    """Offsets of `\\uD800`-`\\uDFFF` escapes that are not a high+low pair. `json.loads` keeps them as
    lone surrogates: no UTF-8 output can encode one, so the first print of the name would crash."""
    if "\\u" not in text:
        return []
    found, high = [], None  # high: offset of a high surrogate waiting for its low half
    for match in _ESCAPE.finditer(text):
        unit = int(match.group(1), 16) if match.group(1) else -1
        if high is not None and 0xDC00 <= unit <= 0xDFFF and match.start() == high + 6:
            high = None
            continue
        if high is not None:
            found.append(high)
            high = None
        if 0xD800 <= unit <= 0xDBFF:
            high = match.start()
        elif 0xDC00 <= unit <= 0xDFFF:
            found.append(match.start())
    return found + ([high] if high is not None else [])


class JsonPositions:
    """`at(path)` and `key_at(path)` give (line, col), 1-based; `duplicates` lists repeated keys.

    A path is found by walking the text down it only: what lies beside it is skipped by the C
    decoder, so locating one mistake in a 50 MB file costs a C parse, not a Python walk of every
    character. A text with repeated keys is scanned whole (its positions are the later value's, as
    json.loads keeps it)."""

    def __init__(self, text: str, repeated_keys=False):
        self.text = text
        self._scanned = None  # the whole scan: {"value": {path: pos}, "key": …, "duplicates": [...]}
        self._line_starts = None  # offsets of each line's start, for the whole scan's many lookups
        if repeated_keys:
            self._scan_all()

    @property
    def duplicates(self):
        """(path of each repeated key, (line, col))."""
        return self._scan_all()["duplicates"]

    def where(self, offset):
        starts = self._line_starts
        if starts is None:  # a few lookups: counting is cheaper than indexing every line
            text = self.text
            return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
        import bisect

        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    def at(self, path):
        """Best position for `path`: the value, else the nearest enclosing value."""
        if self._scanned is not None:
            value, path = self._scanned["value"], tuple(path)
            while path and path not in value:
                path = path[:-1]
            return value.get(path, (1, 1))
        return self.where(self._find(path)[0])

    def key_at(self, path):
        """Where the key ending `path` is written; None when there is no such key."""
        if self._scanned is not None:
            return self._scanned["key"].get(tuple(path))
        _, key, found = self._find(path)
        return self.where(key) if found and key is not None else None

    # -- walking down one path ----------------------------------------------------------------
    def _find(self, path):
        """(offset of the deepest value on `path` that exists, offset of its key or None, whether
        all of `path` exists)."""
        import json

        text, skip_value = self.text, json.JSONDecoder().raw_decode
        i, key = self._skip(0), None
        for step in path:
            container, ch, found = i, text[i] if i < len(text) else "", None
            if ch == "{" and isinstance(step, str):
                i = self._skip(i + 1)
                while text[i] != "}":
                    end = self._string_end(i)
                    at_key, name = i, json.loads(text[i:end])
                    i = self._skip(self._skip(end) + 1)  # past ':'
                    if name == step:
                        found = (i, at_key)
                        break
                    i = self._next(skip_value(text, i)[1])
            elif ch == "[" and isinstance(step, int) and not isinstance(step, bool):
                i, index = self._skip(i + 1), 0
                while text[i] != "]":
                    if index == step:
                        found = (i, None)
                        break
                    i, index = self._next(skip_value(text, i)[1]), index + 1
            if found is None:
                return container, key, False
            i, key = found
        return i, key, True

    def _next(self, i):
        """Past a value's trailing whitespace and comma."""
        i = self._skip(i)
        return self._skip(i + 1) if self.text[i] == "," else i

    def _skip(self, i):
        text = self.text
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def _string_end(self, i):
        text = self.text
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return i + 1

    # -- the whole text -------------------------------------------------------------------------
    def _scan_all(self):
        if self._scanned is None:
            from itertools import accumulate

            self._line_starts = [0, *accumulate(len(line) + 1 for line in self.text.split("\n"))][:-1]
            self._scanned = {"value": {}, "key": {}, "duplicates": []}
            self._scan(self._skip(0), ())
        return self._scanned

    def _scan(self, i, path):
        import json

        found = self._scanned
        found["value"][path] = self.where(i)
        text = self.text
        ch = text[i]
        if ch == "{":
            i = self._skip(i + 1)
            seen = set()
            while text[i] != "}":
                end = self._string_end(i)
                key = json.loads(text[i:end])
                child = path + (key,)
                if key in seen:
                    found["duplicates"].append((child, self.where(i)))
                else:
                    found["key"][child] = self.where(i)
                seen.add(key)
                i = self._skip(self._skip(end) + 1)  # past ':'
                i = self._skip(self._scan(i, child))
                if text[i] == ",":
                    i = self._skip(i + 1)
            return i + 1
        if ch == "[":
            i = self._skip(i + 1)
            index = 0
            while text[i] != "]":
                i = self._skip(self._scan(i, path + (index,)))
                index += 1
                if text[i] == ",":
                    i = self._skip(i + 1)
            return i + 1
        if ch == '"':
            return self._string_end(i)
        while i < len(text) and text[i] not in ",]}" + _WS:
            i += 1
        return i

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
    """`value[path]` and `key[path]` give (line, col), 1-based; `duplicates` lists repeated keys."""

    def __init__(self, text: str):
        self.text = text
        self.value = {}
        self.key = {}
        self.duplicates = []  # (path of the repeated key, (line, col))
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._scan(self._skip(0), ())

    def where(self, offset):
        import bisect

        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def at(self, path):
        """Best position for `path`: the value, else the nearest enclosing value."""
        path = tuple(path)
        while path and path not in self.value:
            path = path[:-1]
        return self.value.get(path, (1, 1))

    def key_at(self, path):
        return self.key.get(tuple(path)) or self.at(path)

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

    def _scan(self, i, path):
        import json

        self.value[path] = self.where(i)
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
                    self.duplicates.append((child, self.where(i)))
                else:
                    self.key[child] = self.where(i)
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

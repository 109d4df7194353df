"""PyYAML, imported once for every loader that reads YAML with it (Floe, Fluxor).

Its pure-Python reader compiles a pattern of Unicode ranges at import: ~7 ms on CPython 3.11,
half of `import yaml` (yaml/pyyaml#301). flowtui reads documents with libyaml; only the wording of
a syntax error takes the pure reader, and the pattern is compiled then.
"""

import sys

_NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class _LazyPattern:
    """Stands for `re.compile(pattern)` until something uses it."""

    def __init__(self, compile_, pattern):
        self._compile, self._pattern, self._compiled = compile_, pattern, None

    def __getattr__(self, name):
        if self._compiled is None:
            self._compiled = self._compile(self._pattern)
        return getattr(self._compiled, name)


def pyyaml():
    """PyYAML, imported with its reader's unused pattern left to compile on first use."""
    module = sys.modules.get("yaml")
    if module is not None:
        return module
    import re

    compile_ = re.compile

    def lazy_non_printable(pattern, flags=0):
        if pattern == _NON_PRINTABLE and not flags:
            return _LazyPattern(compile_, pattern)
        return compile_(pattern, flags)

    re.compile = lazy_non_printable
    try:
        import yaml
    finally:
        re.compile = compile_
    return yaml

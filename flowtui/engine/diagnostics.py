"""Problems found in a flow file, reported as `FILE:LINE:COL: message`."""


class Diagnostic:
    __slots__ = ("file", "line", "col", "message", "severity")

    def __init__(self, file, line, col, message, severity="error"):
        self.file, self.line, self.col = file, line, col
        self.message, self.severity = message, severity

    def __str__(self):
        where = f"{self.file}:{self.line or 1}:{self.col or 1}"
        tag = "warning: " if self.severity == "warning" else ""
        return f"{where}: {tag}{self.message}"

    __repr__ = __str__

    def __eq__(self, other):
        return isinstance(other, Diagnostic) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


def yaml_problem(problem) -> str:
    """A YAML parser's problem, with the fix when it is the usual one (a tab where YAML wants spaces)."""
    if "'\\t'" in problem:
        return f"{problem}: YAML indents with spaces, not tabs: replace the tab"
    return problem


def unreadable(exc) -> str:
    """Why a file a flow names could not be read, from what `open(...).read()` raised."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, ValueError) and "null" in str(exc):
        return "the path holds a NUL character"
    return getattr(exc, "strerror", None) or str(exc)


class FlowError(Exception):
    """The file cannot become a flow; carries every problem found, in file order."""

    def __init__(self, diagnostics):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line or 0, d.col or 0))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class NeedsChoice(Exception):
    """The file holds several flows (or triggers) and the user must pick one.

    `kind` is the option that picks (`flow`, `trigger`); `choices` is [(id, name)].
    """

    def __init__(self, path, kind, choices):
        self.path, self.kind, self.choices = path, kind, choices
        listed = ", ".join(cid for cid, _ in choices)
        super().__init__(f"{path}: holds several {kind}s ({listed}); pick one with --{kind} ID")


def condensed(warnings, keep=3):
    """Warnings as lines, repeats of one message folded after the first `keep`: 80 actions with the
    same unknown key stay on one screen, each place still named."""
    groups = {}
    for warning in warnings:
        key = (warning.file, warning.message) if isinstance(warning, Diagnostic) else (None, str(warning))
        groups.setdefault(key, []).append(warning)
    lines = []
    for (file, _), group in groups.items():
        lines.extend(str(w) for w in group[:keep])
        rest = group[keep:]
        if rest:
            where = ", ".join(f"{w.line or 1}:{w.col or 1}" for w in rest[:12]) + (", …" if len(rest) > 12 else "")
            lines.append(f"{file}: warning: the same {len(rest)} more times, at {where}")
    return lines

"""`--junit PATH`: one testsuite per flow, one testcase per task."""

import re
import time
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr as _quoteattr

from ..engine.model import CANCELLED, FAILED, NOT_RUN, REJECTED, SKIPPED, TIMED_OUT
from .files import write_atomically

# Terminal escape sequences (colours, titles): noise in a report, and not XML.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Characters XML 1.0 cannot carry at all (a BEL, a NUL…): shown as U+FFFD, so the file parses.
_NOT_XML = {c: "\ufffd" for c in (*range(0x20), 0xFFFE, 0xFFFF) if chr(c) not in "\t\n\r"}


def _text(value) -> str:
    return _ANSI.sub("", str(value)).translate(_NOT_XML)


def escape(value) -> str:
    return _escape(_text(value))


def quoteattr(value) -> str:
    return _quoteattr(_text(value))


def junit_xml(run, tails) -> str:
    cases = []
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for nid in run.tree_order():
        node = run.nodes[nid]
        if not node.is_task:
            continue
        state = run.states[nid]
        seconds = state.duration() or 0.0
        body = ""
        if state.status in (FAILED, TIMED_OUT, REJECTED):
            counts["failures"] += 1
            what = {"timed_out": "timed out", "rejected": "rejected"}.get(state.status, "failed")
            code = f" (exit code {state.exit_code})" if state.exit_code is not None else ""
            message = what + code + (f": {state.error}" if state.error else "")
            body = f"<failure message={quoteattr(message)}>{escape(chr(10).join(tails.get(nid, 50)))}</failure>"
        elif state.status == CANCELLED:
            counts["errors"] += 1
            body = f"<error message={quoteattr('cancelled' + (': ' + state.error if state.error else ''))}/>"
        elif state.status in (SKIPPED, NOT_RUN):
            counts["skipped"] += 1
            body = f"<skipped message={quoteattr(state.status.replace('_', ' '))}/>"
        cases.append(
            f'  <testcase classname={quoteattr(node.parent or run.flow.name)} name={quoteattr(node.name)} '
            f'time="{seconds:.3f}">{body}</testcase>'
        )
    # The suite's time is the run's wall time, as pytest writes it and Jenkins shows it: the sum of
    # the cases' times exceeds it when tasks run in parallel.
    wall = (run.finished_at or time.time()) - run.started_at if run.started_at else 0.0
    head = (
        f'<testsuite name={quoteattr(run.flow.name)} tests="{len(cases)}" failures="{counts["failures"]}" '
        f'errors="{counts["errors"]}" skipped="{counts["skipped"]}" time="{wall:.3f}">'
    )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join([head, *cases, "</testsuite>"]) + "\n"


def write_junit(run, tails, path):
    write_atomically(path, junit_xml(run, tails))

"""Output a task printed before this viewer attached, read back from the run log.

The control socket streams events from the moment a viewer subscribes; what came before is in
the run store's per-task log files (`runs/<run-id>/<task-id>.log`, hook lines prefixed
`[hook] `). Only their tail is read: at most `max_lines` lines, the rest counted as dropped.
"""

import os
import re
from itertools import groupby

from flowtui.engine.store.logfiles import log_path

from .runview import META

HOOK = re.compile(r"\[(setup|on_ok|on_nok|teardown)\] ")
CHUNK = 1 << 20


def load_earlier_output(view, state_dir):
    """Put each started task's logged output before the events still to come."""
    if not view.run_id:
        return
    for nid, state in view.states.items():
        if not view.is_task(nid) or state.get("started_at") is None:
            continue
        lines, before = _tail(log_path(state_dir, view.run_id, nid), view.max_lines)
        if not lines:
            continue
        log = view.log(nid)
        log.add(META, None, ["── printed before attaching (from the run log) ──"])
        log.dropped += before
        for hook, group in groupby(map(_hooked, lines), key=lambda pair: pair[0]):
            log.add("stdout", hook, [text for _, text in group])


def _hooked(line):
    match = HOOK.match(line)
    return (match.group(1), line[match.end():]) if match else (None, line)


def _tail(path, count):
    """The last `count` lines of a file (decoded) and how many lines come before them."""
    try:
        with open(path, "rb") as handle:
            pos = handle.seek(0, os.SEEK_END)
            data = b""
            while pos > 0 and data.count(b"\n") <= count:
                step = min(pos, CHUNK)
                pos -= step
                handle.seek(pos)
                data = handle.read(step) + data
            before = 0
            handle.seek(0)
            for _ in range(0, pos, CHUNK):  # lines wholly before what was read: counted, not kept
                before += handle.read(min(CHUNK, pos - handle.tell())).count(b"\n")
    except OSError:  # no log (nothing printed yet, or the store is elsewhere)
        return [], 0
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    kept = lines[-count:] if count else []
    return [line.decode("utf-8", "replace") for line in kept], before + len(lines) - len(kept)

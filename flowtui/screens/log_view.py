"""The selected task's output: a line-API view over the task's bounded line buffer.

Only visible lines are rendered (and cached), so a task printing hundreds of thousands of lines
per second costs the UI one `update()` per refresh tick, not one per line. stderr lines carry a
red gutter, hook output names its hook, viewer notes (attempts, outcomes) are dimmed, and ANSI
colours are kept (pty tasks colour their output); every other control code is dropped, so
nothing a task prints can steer the terminal.
"""

import re
from itertools import islice

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from . import status as st
from .runview import META

GUTTERS = {"stderr": "▌", "stdout": " ", "pty": " ", META: " "}
# Characters of one line drawn here: a minified file or a progress bar without newlines can be
# megabytes long, and rendering it at every repaint would freeze the screen. The run log keeps it whole.
SHOWN = 10_000
# Codes a terminal would act on (cursor moves, bells, charset shifts, line breaks that splitlines
# knows); tab and ESC are kept: tabs are expanded and escape sequences decoded.
CONTROLS = re.compile("[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f-\x9f\u2028\u2029]")
OSC_BEL = re.compile("\x1b\\]([^\x07\x1b]*)\x07")  # rich decodes only ST-terminated OSC
OTHER_ESC = re.compile("\x1b(?:[`-~]|$)")  # ESC c (reset) and the like, which rich leaves as text


def shown(raw) -> tuple[Text, int]:
    """What a terminal shows of one output line, and how many characters were cut off (`SHOWN`):
    its last carriage-return drawing, colours and links decoded, tabs expanded to cells. Drawing
    and search both use it, so a search finds what is on screen."""
    if "\r" in raw:  # a progress bar redrawing its line: a terminal shows the last drawing
        raw = raw.rsplit("\r", 1)[-1] or raw.rstrip("\r").rsplit("\r", 1)[-1]
    cut = max(0, len(raw) - SHOWN)
    if cut:
        raw = raw[:SHOWN]
    if "\x1b" in raw:
        raw = OTHER_ESC.sub("", CONTROLS.sub("", OSC_BEL.sub("\x1b]\\1\x1b\\\\", raw)))
        text = Text.from_ansi(raw, no_wrap=True, end="")
        if "\x1b" in text.plain:  # a sequence rich does not know: drop its ESC, never send it
            text = Text("", no_wrap=True, end="").join(text.split("\x1b", allow_blank=True))
    else:
        text = Text(CONTROLS.sub("", raw), no_wrap=True, end="")
    text.expand_tabs(8)
    return text, cut


def prefix(hook) -> str:
    """What the pane draws before a hook's line (`[setup] `); search matches it too."""
    return f"[{hook}] " if hook else ""


def _width(raw) -> int:
    """Cells a line takes at most (wide characters count two, tabs up to eight)."""
    cut = len(raw) > SHOWN
    if cut:
        raw = raw[:SHOWN]
    return cell_len(raw.expandtabs() if "\t" in raw else raw) + (60 if cut else 0)


class LogView(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "logview--stderr", "logview--gutter-stderr", "logview--meta", "logview--hook",
        "logview--match", "logview--current", "logview--dropped",
    }
    DEFAULT_CSS = """
    LogView {
        background: $background;
        & > .logview--stderr { color: $text-error; }
        & > .logview--gutter-stderr { color: $error; }
        & > .logview--meta { color: $text-muted; text-style: italic; }
        & > .logview--hook { color: $text-secondary; }
        & > .logview--match { background: $warning 40%; }
        & > .logview--current { background: $warning; color: $background; }
        & > .logview--dropped { color: $text-muted; text-style: italic; }
    }
    """

    def __init__(self, view, **kw):
        super().__init__(**kw)
        self.view = view
        self.task_id = None
        self.query_text = ""
        self.match = None  # absolute line number of the current search match
        self._cache = LRUCache(2048)
        self._seen = 0  # lines taken into account for the virtual size
        self._dropped = 0
        self._width = 0
        self._version = -1
        self._end_y = None  # where the last scroll to the end left the view (it still follows there)

    @property
    def log(self):
        return self.view.logs.get(self.task_id) if self.task_id is not None else None

    def show(self, task):
        """Switch to `task`'s output, scrolled to its end."""
        if task == self.task_id:
            return
        self.task_id = task
        self.match = None
        self._cache.clear()
        self._seen = self._dropped = self._width = 0
        self._version = -1
        self.update(stick=True)

    def update(self, stick=None):
        """Take in new lines of the shown task; stays at the bottom if it was there."""
        log = self.log
        if log is None:
            self.virtual_size = Size(self._width, 0)
            self.refresh()
            return
        if log.version == self._version and not stick:
            return
        self._version = log.version
        if stick is None:
            stick = self.at_end
        total = log.dropped + len(log.lines)
        new = min(total - self._seen, len(log.lines))
        if new > 0:
            widest = max(_width(text) for _, _, text in islice(reversed(log.lines), new))
            self._width = max(self._width, widest + 2)
        self._seen = total
        if log.pending is not None:
            self._width = max(self._width, _width(log.pending[2]) + 2)
        shift = log.dropped - self._dropped
        self._dropped = log.dropped
        rows = len(log.lines) + (1 if log.dropped else 0) + (1 if log.pending is not None else 0)
        self.virtual_size = Size(self._width, rows)
        if stick:
            self.scroll_to_end()
        elif shift:
            self.scroll_to(y=max(0, self.scroll_y - shift), animate=False, immediate=True, force=True)
        self.refresh()  # another task's lines may have the same geometry: scrolling alone may not repaint

    @property
    def at_end(self) -> bool:
        """At the bottom, or where the last scroll to the end put it (the pane has since grown)."""
        return self.is_vertical_scroll_end or self.scroll_y == self._end_y

    def scroll_to_end(self):
        # Forced: before the first layout has shown a scrollbar, an unforced scroll is ignored.
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self._end_y = self.scroll_y

    def action_scroll_end(self):
        """End: back to the bottom, following again. Textual's own End animates towards the end as
        it was when the key was pressed; under a flood the pane has grown by then, so the view
        would land short of the end, stop following, and be pushed up as lines are dropped."""
        if not self._allow_scroll:
            return super().action_scroll_end()
        at_end = self.is_vertical_scroll_end
        self.scroll_to_end()
        if at_end:  # End at the end also goes to the left edge, as Textual's does
            self.scroll_to(x=0, animate=False, immediate=True, force=True)

    def on_resize(self):
        if self._end_y is not None and self.scroll_y == self._end_y:
            self.scroll_to_end()

    def watch_show_horizontal_scrollbar(self, shown):
        """A line wider than the pane brings a scrollbar that takes the bottom row: a pane that
        was following stays at the end (it was left a row short, the newest line under the bar)."""
        if shown and self._end_y is not None and self.scroll_y == self._end_y:
            self.scroll_to_end()

    def notify_style_update(self):
        super().notify_style_update()
        self._cache.clear()

    # -- search ----------------------------------------------------------------------------------
    def search(self, query, direction=1):
        """Find `query` (case-insensitive) from the current match or the top line; wraps around."""
        if query != self.query_text:
            self.query_text = query
            self.match = None
            self._cache.clear()
        log = self.log
        # the kept lines, then the line being drawn now (a prompt, a progress bar), as on screen
        count = len(log.lines) + (log.pending is not None) if log is not None else 0
        if not query or not count:
            self.refresh()
            return False
        lines, offset = log.lines, self._offset(log)
        if self.match is not None and self.match >= log.dropped:
            start = self.match - log.dropped + direction
        else:
            start = int(self.scroll_y) - offset if direction > 0 else int(self.scroll_y) - offset + self.size.height - 1
        needle = query.lower()
        for step in range(count):
            i = (start + step * direction) % count
            _, hook, raw = lines[i] if i < len(lines) else log.pending
            if needle in (prefix(hook) + shown(raw)[0].plain).lower():
                self.match = log.dropped + i
                self._cache.clear()
                row = i + offset
                self.scroll_to(y=max(0, row - self.size.height // 2), animate=False, immediate=True, force=True)
                self.refresh()
                return True
        self.match = None
        self.refresh()
        return False

    # -- drawing ---------------------------------------------------------------------------------
    @staticmethod
    def _offset(log):
        return 1 if log.dropped else 0  # the "N earlier lines" note takes the first row

    def render_line(self, y) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        log = self.log
        row = scroll_y + y
        if log is None:
            return Strip.blank(width, base)
        offset = self._offset(log)
        if row < offset:
            note = Text(f"… {log.dropped} earlier lines not kept here (the run log has them)", no_wrap=True, end="")
            note.stylize(self.get_component_rich_style("logview--dropped", partial=True))
            return self._strip(note, scroll_x, width, base)
        index = row - offset
        if index >= len(log.lines):
            if index == len(log.lines) and log.pending is not None:  # the line being drawn now
                current = log.dropped + index == self.match
                return self._strip(self.line_text(*log.pending, current=current), scroll_x, width, base)
            return Strip.blank(width, base)
        number = log.dropped + index
        key = (self.task_id, number)
        text = self._cache.get(key)
        if text is None:
            text = self._cache[key] = self.line_text(*log.lines[index], current=number == self.match)
        return self._strip(text, scroll_x, width, base)

    def _strip(self, text, scroll_x, width, base):
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def line_text(self, stream, hook, raw, current=False) -> Text:
        gutter = GUTTERS.get(stream, " ")
        text = Text(no_wrap=True, end="")
        if stream == "stderr":
            text.append(gutter, self.get_component_rich_style("logview--gutter-stderr", partial=True))
        else:
            text.append(gutter)
        body, cut = shown(raw)
        if stream == "stderr":
            body.stylize(self.get_component_rich_style("logview--stderr", partial=True))
        elif stream == META:
            body.stylize(self.get_component_rich_style("logview--meta", partial=True))
        line = Text(no_wrap=True, end="")  # what search matches: the hook's prefix and the body
        line.append(prefix(hook), self.get_component_rich_style("logview--hook", partial=True))
        line.append_text(body)
        if self.query_text:
            style = self.get_component_rich_style("logview--current" if current else "logview--match", partial=True)
            line.highlight_words([self.query_text], style, case_sensitive=False)
        text.append_text(line)
        if cut > 0:
            text.append(f" … {cut:,} more characters (the run log has the whole line)",
                        self.get_component_rich_style("logview--dropped", partial=True))
        return text


class LogTitle(Widget):
    """One line above the output: which task, its state, attempt, and whether follow is on."""

    DEFAULT_CSS = """
    LogTitle { height: 1; background: $panel; color: $text; padding: 0 1; }
    """
    follow = reactive(True)

    def __init__(self, view, clock, **kw):
        super().__init__(**kw)
        self.view = view
        self.clock = clock
        self.task_id = None

    def render(self):
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.task_id is None or self.task_id not in self.view.nodes:
            text.append("no task selected", "dim")
        else:
            state = self.view.states[self.task_id]
            text.append(self.task_id, "bold")
            text.append(f"  {st.icon(state['status'])} {st.label(state['status'])}")
            if self.view.tries(self.task_id) > 1:
                text.append(f"  attempt {self.view.tries(self.task_id)}")
            if (state.get("iteration") or 1) > 1:
                text.append(f"  iteration {state['iteration']}")
            if state.get("exit_code") is not None:
                text.append(f"  exit {state['exit_code']}")
            if state.get("duration") is not None:
                text.append(f"  {st.duration(state['duration'])}")
            elif state.get("started_at") and state["status"] in ("running", "retrying"):
                text.append(f"  {st.duration(self.clock() - state['started_at'])}")
        text.append("  · follow " + ("on" if self.follow else "off"), "dim")
        return text

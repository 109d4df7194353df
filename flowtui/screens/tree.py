"""The tree of groups and tasks, drawn with Textual's line API.

Only the rows of expanded groups are flattened (a list of ids), and only the visible rows are
rendered, so a 10 000-task flow opens at once and scrolls smoothly. Group rows show their
children's roll-up (kept incrementally by `RunView.counts`).
"""

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from flowtui.engine.model import TERMINAL

from . import status as st

EXPAND_ALL_LIMIT = 2000  # flows with more nodes open with only the top level expanded
ROW_MIN = 18  # cells kept after the indentation: expander, status glyph, the start of the name, a detail


def indent(depth, width) -> int:
    """Two cells per level, capped so that a deep node in a narrow tree still shows its glyph."""
    return max(0, min(depth * 2, width - ROW_MIN))


class TaskTree(ScrollView, can_focus=True):
    COMPONENT_CLASSES = st.component_classes() | {"tasktree--cursor", "tasktree--detail", "tasktree--group"}
    DEFAULT_CSS = (
        "TaskTree { background: $surface; }\n"
        "TaskTree { & > .tasktree--cursor { background: $block-cursor-blurred-background; }"
        " & > .tasktree--detail { color: $text-muted; }"
        " & > .tasktree--group { text-style: bold; }" + st.STATUS_CSS + "}\n"
        "TaskTree:focus > .tasktree--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }\n"
    )
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="tree.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="tree.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="tree.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="tree.page_down"),
        Binding("home", "jump(0)", "First", show=False, id="tree.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="tree.last"),
        Binding("enter,space", "toggle", "Expand/collapse", show=False, id="tree.toggle"),
        Binding("left", "collapse", "Collapse", show=False, id="tree.collapse"),
        Binding("right", "expand", "Expand", show=False, id="tree.expand"),
    ]

    class Selected(Message):
        """The cursor moved to `task`; `user` is true when a person moved it."""

        def __init__(self, task, user):
            super().__init__()
            self.task, self.user = task, user

    def __init__(self, view, clock, **kw):
        super().__init__(**kw)
        self.view = view
        self.clock = clock
        self.rows = []  # [(id, depth)] of the visible (expanded) part of the tree
        # A user's move whose Selected message the app has not handled yet: following a task that
        # starts meanwhile must not take the cursor back from where the user just put it.
        self.user_moved = False
        self.index = {}
        self.cursor = 0
        if len(view.nodes) <= EXPAND_ALL_LIMIT:
            self.expanded = {nid for nid, children in view.children.items() if children}
        else:
            self.expanded = set(view.roots)
        self.rebuild()

    # -- structure -------------------------------------------------------------------------------
    def rebuild(self):
        """Flatten the expanded part of the tree; keeps the cursor on the same node."""
        current = self.current
        rows, stack = [], [(nid, 0) for nid in reversed(self.view.roots)]
        attached = set()
        children, expanded = self.view.children, self.expanded
        while stack:
            nid, depth = stack.pop()
            rows.append((nid, depth))
            attached.add(nid)
            if nid in expanded:
                stack.extend((c, depth + 1) for c in reversed(children.get(nid, ())))
        if len(attached) < len(self.view.nodes):  # nodes outside the roots (on-demand ones)
            rows.extend((nid, 0) for nid in self.view.nodes if nid not in attached and self.view.nodes[nid].get("parent") is None)
        self.rows = rows
        self.index = {nid: i for i, (nid, _) in enumerate(rows)}
        self.cursor = self.index.get(current, min(self.cursor, max(0, len(rows) - 1)))
        self.virtual_size = Size(0, len(rows))
        self.refresh()

    @property
    def current(self):
        return self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None

    def select(self, nid, user=False):
        """Move the cursor to `nid`, expanding its groups; tells the app."""
        if nid not in self.view.nodes:
            return
        hidden = [g for g in self.view.ancestors(nid) if g not in self.expanded]
        if hidden:
            self.expanded.update(hidden)
            self.rebuild()
        if nid in self.index:
            self._move(self.index[nid], user)

    def _move(self, row, user=True):
        if not self.rows:
            return
        row = max(0, min(row, len(self.rows) - 1))
        old, self.cursor = self.cursor, row
        self.refresh_lines(old)
        self.refresh_lines(row)
        self.scroll_to_region(Region(0, row, 1, 1), animate=False, force=True)
        self.user_moved = self.user_moved or user
        self.post_message(self.Selected(self.rows[row][0], user))

    def on_resize(self):
        """A shorter tree (the summary line appearing, a smaller terminal) keeps the cursor's row in view."""
        if self.rows:
            self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, force=True)

    # -- actions ---------------------------------------------------------------------------------
    def action_cursor(self, delta):
        self._move(self.cursor + delta)

    def action_page(self, direction):
        self._move(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, row):
        self._move(row if row >= 0 else len(self.rows) - 1)

    def _set_expanded(self, nid, expand):
        if not self.view.children.get(nid) or (nid in self.expanded) == expand:
            return False
        (self.expanded.add if expand else self.expanded.discard)(nid)
        self.rebuild()
        return True

    def action_toggle(self):
        nid = self.current
        if nid is not None:
            self._set_expanded(nid, nid not in self.expanded)

    def action_expand(self):
        if self.current is not None:
            self._set_expanded(self.current, True)

    def action_collapse(self):
        nid = self.current
        if nid is None:
            return
        if not self._set_expanded(nid, False):
            parent = self.view.nodes[nid].get("parent")
            if parent in self.index:
                self._move(self.index[parent])

    def on_click(self, event: Click):
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y + int(self.scroll_y)
        if 0 <= row < len(self.rows):
            nid, depth = self.rows[row]
            start = indent(depth, self.scrollable_content_region.width)
            if offset.x in (start, start + 1):
                self._set_expanded(nid, nid not in self.expanded)
            self._move(self.index.get(nid, row))

    # -- drawing ---------------------------------------------------------------------------------
    def render_line(self, y) -> Strip:
        row = int(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self.rows):
            return Strip.blank(width, base)
        nid, depth = self.rows[row]
        text = self.row_text(nid, depth, width)
        if row == self.cursor:
            text.stylize(self.get_component_rich_style("tasktree--cursor"))
        segments = list(text.render(self.app.console))
        return Strip(segments).crop_extend(0, width, base).simplify() if segments else Strip([Segment(" " * width, base)])

    def row_text(self, nid, depth, width) -> Text:
        view = self.view
        node, state = view.nodes[nid], view.states[nid]
        group = bool(view.children.get(nid))
        status = view.group_status(nid) if group and not node.get("is_task", True) else state["status"]
        now = self.clock()
        style = self.get_component_rich_style(f"status--{status}", partial=True)
        expander = ("▾ " if nid in self.expanded else "▸ ") if group else "  "
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(" " * indent(depth, width) + expander)
        text.append(st.icon(status, now), style)
        text.append(" ")
        head = text.cell_len
        name = Text(node.get("name") or nid, self.get_component_rich_style("tasktree--group", partial=True) if group else "",
                    no_wrap=True, overflow="ellipsis", end="")
        detail = self.detail(nid, group, status, now)
        if detail and head + 1 + len(detail) + 2 > width:
            detail = ""  # too narrow for both: the status glyph and a name matter more
        room = width - head - (len(detail) + 2 if detail else 0)
        if name.cell_len > room > 0:
            name.truncate(room, overflow="ellipsis")  # the name gives way, never the glyph before it
        text.append_text(name)
        if detail:
            pad = max(2, width - text.cell_len - len(detail))
            text.append(" " * pad)
            text.append(detail, self.get_component_rich_style("tasktree--detail", partial=True))
        return text

    def detail(self, nid, group, status, now) -> str:
        view = self.view
        state = view.states[nid]
        parts = []
        if group and not view.nodes[nid].get("is_task", True):
            done, total, failed = view.group_progress(nid)
            if total:
                parts.append(f"{done}/{total}")
            if failed:
                parts.append(f"✘{failed}")
        else:
            if view.tries(nid) > 1:
                parts.append(f"×{view.tries(nid)}")
            if (state.get("iteration") or 1) > 1:
                parts.append(f"#{state['iteration']}")
        if status in TERMINAL:
            parts.append(st.duration(state.get("duration")))
        elif state["status"] in ("running", "retrying") and state.get("started_at") is not None:
            parts.append(st.duration(now - state["started_at"]))
        return " ".join(p for p in parts if p)

"""The `?` screen: every key of the run screen, read from the app's bindings so it cannot drift."""

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

NOTES = (
    "Tree: ↑/↓ move, ←/→ collapse/expand, Enter toggles a group. Tab moves to the output.\n"
    "Output: follows the newest running task while follow is on (f); moving in the tree turns it off.\n"
    "stderr lines have a red bar; hook output is marked [setup], [on_ok], [on_nok], [teardown].\n"
    "Ctrl+P opens the command palette with the same actions."
)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 50%; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    HelpScreen #notes { margin-top: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for binding in self.app.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                keys = ", ".join(binding.key_display or self.app.get_key_display(Binding(k, "")) for k in binding.key.split(","))
                table.add_row(keys, binding.tooltip or binding.description)
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(table)
            yield Static(NOTES, id="notes", markup=False)

"""Questions asked before a run exists: which flow of a Floe host config, and a start form."""

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, OptionList, Select, Static, Switch
from textual.widgets.option_list import Option


class FlowPicker(App[str | None]):
    """Lists the flows (or triggers) of a config; Enter picks one, Escape cancels (returns None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-pick")]
    CSS = "OptionList { height: auto; max-height: 80%; } #title { padding: 1 1; text-style: bold; }"

    def __init__(self, path, choices, kind="flow"):
        super().__init__()
        self.path, self.choices, self.kind = path, choices, kind

    def compose(self) -> ComposeResult:
        yield Static(f"{self.path} offers several {self.kind}s: pick one", id="title")
        yield OptionList(*[
            Option(f"{name}  ({cid})" if name and name != cid else cid, id=cid) for cid, name in self.choices
        ])
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.exit(event.option_id)

    def action_cancel(self) -> None:
        self.exit(None)


class InputForm(App[dict | None]):
    """A start form with typed fields (text, bool, choice); returns {field id: string} or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-form"),
                Binding("ctrl+s", "submit", "Start", id="submit-form")]
    CSS = """
    #title { padding: 1 1; text-style: bold; }
    .field { height: auto; padding: 0 1; }
    #buttons { height: auto; padding: 1 1; }
    #missing { padding: 0 1; color: $text-error; display: none; }
    """

    def __init__(self, form, missing=None):
        super().__init__()
        self.form = form
        self.fields = [f for f in form.fields if missing is None or f.id in missing]

    def compose(self) -> ComposeResult:
        yield Static(self.form.prompt, id="title")
        with VerticalScroll():
            for field in self.fields:
                yield Label(field.prompt or field.id, classes="field")
                default = "" if field.default is None else str(field.default)
                if field.type == "bool":
                    yield Switch(value=default.lower() in ("true", "yes", "y", "1"), id=f"field-{field.id}")
                elif field.type == "choice" and field.choices:
                    yield Select([(c, c) for c in field.choices], value=default if default in field.choices else Select.NULL,
                                 id=f"field-{field.id}", allow_blank=default not in field.choices)
                else:
                    yield Input(value=default, placeholder=field.id, id=f"field-{field.id}", classes="field")
            yield Static("", id="missing", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        if self.fields:  # typing goes straight into the first field
            self.query_one(f"#field-{self.fields[0].id}").focus()

    def values(self) -> dict:
        out = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.id}")
            if isinstance(widget, Switch):
                out[field.id] = "true" if widget.value else "false"
            elif isinstance(widget, Select):
                out[field.id] = "" if widget.value is Select.NULL else str(widget.value)
            else:
                out[field.id] = widget.value
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        values = self.values()
        missing = [f for f in self.fields if f.required and not values[f.id].strip()]
        if not missing:
            self.exit(values)
            return
        note = self.query_one("#missing", Static)  # the form stays open and says what it still needs
        note.update("Required: " + ", ".join(f.prompt or f.id for f in missing))
        note.display = True
        for field in self.fields:
            self.query_one(f"#field-{field.id}").set_class(field in missing, "-invalid")
        self.query_one(f"#field-{missing[0].id}").focus()

    def action_cancel(self) -> None:
        self.exit(None)

"""Dialogs: pending approvals (with typed fields), yes/no confirmation, a reject reason, a line
for a task's stdin.

They are modal for keys only: the app keeps draining events and the run keeps going while one is
open, and the approval dialog re-reads the pending list whenever it changes.
"""

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static, Switch
from textual.widgets.option_list import Option

DIALOG_CSS = """
{name} {{ align: center middle; background: $background 50%; }}
{name} > Vertical {{
    width: 72; max-width: 95%; height: auto; max-height: 90%; padding: 1 2;
    border: thick $primary; background: $surface;
}}
{name} .title {{ text-style: bold; width: 100%; margin-bottom: 1; }}
{name} .buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} .buttons Button {{ margin-left: 1; }}
"""


class ConfirmModal(ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmModal")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question, yes="Yes", no="No"):
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="title", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def on_mount(self):
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed):
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value):
        self.dismiss(value)


class ReasonModal(ModalScreen[str | None]):
    """Asks why a task is rejected; Escape gives None (nothing is rejected)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ReasonModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="reason.cancel")]

    def __init__(self, task):
        super().__init__()
        self.task_id = task

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Reject {self.task_id}", classes="title", markup=False)
            yield Input(placeholder="reason (optional), Enter to reject", id="reason")
            with Horizontal(classes="buttons"):
                yield Button("Reject", variant="error", id="reject")
                yield Button("Cancel (esc)", id="cancel")

    def on_input_submitted(self, event: Input.Submitted):
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed):
        if event.button.id == "reject":
            self.dismiss(self.query_one("#reason", Input).value)
        else:
            self.dismiss(None)

    def action_cancel(self):
        self.dismiss(None)


# A prompt asking for something a terminal would not echo (`read -s`, sudo, ssh, git, gpg).
SECRET_PROMPT = re.compile(r"pass(word|phrase|code)|\bpin\b|secret|token", re.IGNORECASE)


class InputModal(ModalScreen[str | None]):
    """Asks for the line to send to a running task's stdin (its prompt shown above, if it printed
    one); Enter gives the text, blank too (an empty answer takes a prompt's default), Escape None.
    A prompt that asks for a password (or passphrase, PIN, token) masks what is typed, as the
    task's terminal does; Ctrl+R shows or hides it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="InputModal") + """
    InputModal #task-prompt { color: $text-muted; margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="input.cancel"),
        Binding("ctrl+r", "reveal", "Show/hide", id="input.reveal"),
    ]

    PROMPT_SHOWN = 200  # characters: a prompt asks at the end of its line, which may be long

    def __init__(self, task, prompt=""):
        super().__init__()
        self.task_id = task
        self.prompt = prompt if len(prompt) <= self.PROMPT_SHOWN else "…" + prompt[1 - self.PROMPT_SHOWN:]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Send a line to {self.task_id}", classes="title", markup=False)
            prompt = Static(self.prompt, id="task-prompt", markup=False)
            prompt.display = bool(self.prompt)
            yield prompt
            yield Input(placeholder="the line to send, Enter to send it", id="line",
                        password=bool(SECRET_PROMPT.search(self.prompt)))
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="primary", id="send")
                yield Button("Cancel (esc)", id="cancel")

    def on_input_submitted(self, event: Input.Submitted):
        event.stop()
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed):
        self.dismiss(self.query_one("#line", Input).value if event.button.id == "send" else None)

    def action_cancel(self):
        self.dismiss(None)

    def action_reveal(self):
        field = self.query_one("#line", Input)
        field.password = not field.password


class ApprovalModal(ModalScreen[None]):
    """Every pending approval: pick one, fill its fields, approve or reject it."""

    # The dialog scrolls (its buttons stay): two approvals and a few fields outgrow an 80x24 screen.
    DEFAULT_CSS = DIALOG_CSS.format(name="ApprovalModal").replace("> Vertical", "> #approval-dialog") + """
    ApprovalModal OptionList { height: auto; max-height: 6; margin-bottom: 1; }
    ApprovalModal #prompt { margin-bottom: 1; }
    ApprovalModal #fields { height: auto; }
    ApprovalModal .field { height: auto; }
    ApprovalModal .field-label { width: 24; padding: 1 1 0 0; color: $text-muted; }
    ApprovalModal .field Input, ApprovalModal .field Select { width: 1fr; }
    ApprovalModal .buttons { dock: bottom; }
    ApprovalModal #missing { color: $text-error; display: none; }
    """
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approval.approve"),
        Binding("x", "reject", "Reject", id="approval.reject"),
        Binding("escape", "close", "Close", id="approval.close"),
    ]

    def __init__(self, view, decide, task=None):
        """`decide(task, approved, values, reason)` sends the decision to the run."""
        super().__init__()
        self.view = view
        self.decide = decide
        self.task_id = task if task in view.approvals else next(iter(view.approvals), None)
        self.pending = []
        self.shown = None  # the task whose prompt and fields are on screen
        self.field_widgets = {}
        self.labels = {}  # field id -> its prompt, to name the missing ones

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="approval-dialog"):
            yield Static("", id="title", classes="title", markup=False)
            yield OptionList(id="approval-list")
            yield Static("", id="prompt", markup=False)
            yield VerticalScroll(id="fields")
            yield Static("", id="missing", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Approve (a)", variant="success", id="approve")
                yield Button("Reject (x)", variant="error", id="reject")
                yield Button("Close (esc)", id="close")

    def on_mount(self):
        self.sync()

    def on_screen_resume(self):
        self.sync()  # approvals may have changed while the reason dialog was on top

    def sync(self):
        """Re-read the pending approvals (called by the app whenever they change)."""
        pending = list(self.view.approvals)
        if not pending:
            if self.is_current:
                self.dismiss(None)
            return
        if self.task_id not in self.view.approvals:
            self.task_id = pending[0]
        if self.shown != self.task_id:
            self.show_task()
        if pending != self.pending:
            self.pending = pending
            options = self.query_one("#approval-list", OptionList)
            options.set_options([Option(Text(nid), id=nid) for nid in pending])
            options.display = len(pending) > 1
            options.highlighted = pending.index(self.task_id)
        count = len(pending)
        self.query_one("#title", Static).update(
            f"Approval needed: {self.task_id}" + (f"   ({count} pending)" if count > 1 else "")
        )

    def show_task(self):
        approval = self.view.approvals[self.task_id]
        self.shown = self.task_id
        self.query_one("#prompt", Static).update(approval["prompt"])
        box = self.query_one("#fields", VerticalScroll)
        box.remove_children()
        self.query_one("#missing", Static).display = False
        self.field_widgets, self.labels = {}, {}
        widgets = []
        for number, field in enumerate(approval["fields"]):
            title = field.get("prompt") or field["id"]
            label = Label(title + ("" if field.get("required", True) else " (optional)"), classes="field-label", markup=False)
            kind, default, wid = field.get("type", "text"), field.get("default"), f"field-{number}"
            if kind == "bool":
                widget = Switch(value=str(default).lower() in ("true", "yes", "1", "on", "y"), id=wid)
            elif kind == "choice" and field.get("choices"):
                choices = [str(c) for c in field["choices"]]
                widget = Select([(c, c) for c in choices], value=str(default) if str(default) in choices else choices[0],
                                allow_blank=False, id=wid)
            else:
                widget = Input(value="" if default is None else str(default), placeholder=field["id"], id=wid)
            self.field_widgets[field["id"]] = widget
            if field.get("required", True):
                self.labels[field["id"]] = title
            widgets.append(Horizontal(label, widget, classes="field"))
        if widgets:
            box.mount_all(widgets)
        box.display = bool(widgets)
        first = next(iter(self.field_widgets.values()), None)
        (first or self.query_one("#approve", Button)).focus()
        self.query_one("#title", Static).update(f"Approval needed: {self.task_id}")

    def values(self):
        out = {}
        for fid, widget in self.field_widgets.items():
            if isinstance(widget, Switch):
                out[fid] = "true" if widget.value else "false"
            else:
                out[fid] = str(widget.value)
        return out

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted):
        if event.option.id in self.view.approvals and event.option.id != self.task_id:
            self.task_id = event.option.id
            self.show_task()

    def on_input_submitted(self, event: Input.Submitted):
        if event.input.id and event.input.id.startswith("field-"):
            self.action_approve()

    def on_button_pressed(self, event: Button.Pressed):
        {"approve": self.action_approve, "reject": self.action_reject, "close": self.action_close}[event.button.id]()

    def action_approve(self):
        if self.task_id not in self.view.approvals:
            return
        values = self.values()
        missing = [fid for fid in self.labels if not values[fid].strip()]
        if missing:  # as `flowtui approve` refuses it: the dialog stays open and says what is missing
            self.show_missing(missing)
            return
        self.decide(self.task_id, True, values, None)

    def show_missing(self, missing):
        note = self.query_one("#missing", Static)
        note.update("Required: " + ", ".join(self.labels[fid] for fid in missing))
        note.display = True
        for fid, widget in self.field_widgets.items():
            widget.set_class(fid in missing, "-invalid")
        self.field_widgets[missing[0]].focus()

    def action_reject(self):
        task = self.task_id
        if task not in self.view.approvals:
            return

        def rejected(reason):
            if reason is not None:
                self.decide(task, False, None, reason or None)

        self.app.push_screen(ReasonModal(task), rejected)

    def action_close(self):
        self.dismiss(None)

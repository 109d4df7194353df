"""The start form asked before a run: typing goes into it at once, and a blank required field
keeps it open (as the headless paths refuse a missing value)."""

import asyncio

from textual.widgets import Input

from flowtui.engine.model import Approval, Field
from flowtui.screens.prerun import InputForm

FORM = Approval(prompt="Release", fields=(
    Field(id="version", prompt="Version"),
    Field(id="dry", prompt="Dry run?", type="bool"),
    Field(id="note", prompt="Note", required=False),
))


def answers(steps):
    app = InputForm(FORM)

    async def go():
        async with app.run_test() as pilot:
            await pilot.pause()
            await steps(app, pilot)
            await pilot.pause()
        return app.return_value

    return asyncio.run(go())


def test_the_form_opens_with_its_first_field_focused():
    async def steps(app, pilot):
        assert app.focused is app.query_one("#field-version", Input)
        await pilot.press(*"1.2.3", "ctrl+s")

    assert answers(steps) == {"version": "1.2.3", "dry": "false", "note": ""}


def test_a_blank_required_field_keeps_the_form_open_and_is_named():
    async def steps(app, pilot):
        await pilot.press("ctrl+s")
        missing = app.query_one("#missing")
        assert app.return_value is None and missing.display
        assert str(missing.render()) == "Required: Version"
        await pilot.click("#start")  # the button refuses it too
        assert app.return_value is None
        version = app.query_one("#field-version", Input)
        assert app.focused is version and version.has_class("-invalid")
        await pilot.press(*"2.0", "enter")

    assert answers(steps) == {"version": "2.0", "dry": "false", "note": ""}

"""The questions asked before a run: picking a flow and filling a start form, driven by Pilot."""

import asyncio

from flowtui.engine.model import Approval, Field
from flowtui.screens.prerun import FlowPicker, InputForm


def drive(app, steps):
    async def go():
        async with app.run_test() as pilot:
            await steps(pilot)
            await pilot.pause()
        return app.return_value

    return asyncio.run(go())


def test_flow_picker_returns_the_chosen_id():
    app = FlowPicker("config.yml", [("build-project", "Build Project"), ("danmux", "danmux")])

    async def steps(pilot):
        await pilot.press("down", "enter")

    assert drive(app, steps) == "danmux"


def test_flow_picker_escape_returns_none():
    app = FlowPicker("config.yml", [("a", "A")])

    async def steps(pilot):
        await pilot.press("escape")

    assert drive(app, steps) is None


def test_input_form_returns_typed_answers_as_strings():
    form = Approval(prompt="Start", fields=(
        Field(id="branch", prompt="Branch", default="main"),
        Field(id="fast", prompt="Fast?", type="bool"),
        Field(id="env", prompt="Env", type="choice", choices=("dev", "prod"), default="dev"),
    ))
    app = InputForm(form)

    async def steps(pilot):
        branch = app.query_one("#field-branch")
        branch.value = ""
        await pilot.click("#field-branch")
        await pilot.press(*"release")
        await pilot.click("#field-fast")
        await pilot.click("#start")

    assert drive(app, steps) == {"branch": "release", "fast": "true", "env": "dev"}


def test_input_form_only_asks_missing_fields_and_cancel_returns_none():
    form = Approval(prompt="Start", fields=(Field(id="a"), Field(id="b")))
    app = InputForm(form, missing=["b"])

    async def steps(pilot):
        assert [f.id for f in app.fields] == ["b"]
        await pilot.press("escape")

    assert drive(app, steps) is None

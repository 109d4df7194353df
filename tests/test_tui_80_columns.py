"""The run screen at the standard 80x24 terminal.

A pending approval added `a Approve` to the footer and pushed `q Quit` off the right edge: nothing
on screen said how to quit.
"""

from textual.widgets import Footer

from flowtui.screens.modals import ApprovalModal

from .test_tui_keys import drive, gated, sketch, tui, until
from .test_tui_output import screen_text

SIZE = (80, 24)


def assert_footer_fits(app, state):
    """Every key of the footer is drawn inside the 80 columns, `? Help` and `q Quit` among them."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query("FooterKey"))
    assert keys, state
    assert footer.virtual_size.width <= footer.size.width == SIZE[0], (state, footer.virtual_size)
    assert all(key.region.right <= footer.region.right for key in keys), (state, [(k.key, k.region) for k in keys])
    last = screen_text(app).splitlines()[-1]
    assert "? Help" in last and last.rstrip().endswith("q Quit"), (state, last)
    return [key.key for key in keys]


def test_at_80_columns_the_footer_shows_help_and_quit_in_every_state_of_the_run(tmp_path):
    async def go():
        async with tui(*gated(tmp_path), size=SIZE) as (app, pilot, run):
            await until(pilot, lambda: isinstance(app.screen, ApprovalModal), "the approval dialog")
            await pilot.press("escape")
            await until(pilot, lambda: "a" in [k.key for k in app.screen.query("FooterKey")], "a Approve")
            assert "a" in assert_footer_fits(app, "awaiting approval")
            await pilot.press("p")
            await until(pilot, lambda: "r" in [k.key for k in app.screen.query("FooterKey")], "r Resume")
            keys = assert_footer_fits(app, "paused, awaiting approval")
            assert {"r", "a", "s", "c"} <= set(keys) and "p" not in keys
            await pilot.press("r")
            await until(pilot, lambda: "p" in [k.key for k in app.screen.query("FooterKey")], "p Pause")
            await pilot.press("a")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await until(pilot, lambda: "s" not in [k.key for k in app.screen.query("FooterKey")], "no s Stop")
            keys = assert_footer_fits(app, "finished")
            assert "R" in keys and not {"p", "r", "s", "c", "a"} & set(keys)

    drive(go())


def test_at_80_columns_a_paused_run_s_footer_shows_help_and_quit(tmp_path):
    flow, runtime = sketch(tmp_path, {"main": [{"name": "long", "cmd": "echo working; sleep 30"}]})

    async def go():
        async with tui(flow, runtime, size=SIZE) as (app, pilot, run):
            await until(pilot, lambda: any(t == "working" for _, _, t in app.view.log("main/long").lines), "output")
            assert_footer_fits(app, "running")
            await pilot.press("p")
            await until(pilot, lambda: "r" in [k.key for k in app.screen.query("FooterKey")], "r Resume")
            assert_footer_fits(app, "paused")
            run.reactor.call_threadsafe(run.cancel, "test")
            await until(pilot, lambda: not app.view.active, "cancelled")

    drive(go())


"""What the output pane draws: pty colours kept, stderr and hooks marked, a bounded tail."""

from rich.color import Color

from flowtui.engine.model import Action, FlowDef, Node

from .test_tui_keys import drive, shell, tui, until


def spans_text(text):
    return {text.plain[span.start:span.end]: span.style for span in text.spans}


def test_pty_colours_stderr_and_hook_lines_are_told_apart():
    nodes = {
        "colour": Node(id="colour", name="colour", pty=True, action=shell("printf '\\033[31mred alert\\033[0m plain\\n'")),
        "mixed": Node(id="mixed", name="mixed", action=shell("echo oops >&2; exit 1"),
                      hooks={"on_nok": Action(kind="shell", params={"cmd": "echo handling"})}),
    }
    flow = FlowDef(name="output", format="flowctrl", file=None, nodes=nodes, roots=("colour", "mixed"))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            view = app.log_view
            colour = [line for line in app.view.logs["colour"].lines if line[0] == "pty"]
            assert [text for _, _, text in colour] == ["\x1b[31mred alert\x1b[0m plain"]
            drawn = view.line_text(*colour[0])
            assert drawn.plain.strip() == "red alert plain"
            assert spans_text(drawn)["red alert"].color.number == Color.parse("red").number == 1

            lines = list(app.view.logs["mixed"].lines)
            stderr = next(line for line in lines if line[0] == "stderr")
            drawn = view.line_text(*stderr)
            assert drawn.plain == "▌oops"
            assert drawn.spans and drawn.spans[-1].style == view.get_component_rich_style("logview--stderr", partial=True)
            hook = next(line for line in lines if line[1] == "on_nok")
            assert view.line_text(*hook).plain == " [on_nok] handling"

    drive(go())


def test_output_pane_keeps_a_bounded_tail_and_says_what_it_dropped():
    nodes = {"many": Node(id="many", name="many", action=shell("seq 1 5000"))}
    flow = FlowDef(name="tail", format="flowctrl", file=None, nodes=nodes, roots=("many",))

    async def go():
        async with tui(flow, max_lines=100, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await pilot.pause()
            log = app.view.logs["many"]
            assert len(log.lines) == 100 and log.dropped == 5001 - 100  # 5000 lines + the outcome note
            assert log.lines[-2][2] == "5000"
            view = app.log_view
            assert view.virtual_size.height == 101  # the note row + the kept lines
            view.scroll_home(animate=False, immediate=True)
            await pilot.pause()
            assert "4901 earlier lines" in "".join(seg.text for seg in view.render_line(0))

    drive(go())


def test_a_huge_line_is_drawn_cut_short_and_says_so():
    """A 300 000-character line (a minified file, a progress bar) must not be rendered whole at
    every repaint; the view shows its start and how much more there is."""
    nodes = {"wide": Node(id="wide", name="wide", action=shell("head -c 300000 /dev/zero | tr '\\0' x; echo"))}
    flow = FlowDef(name="wide", format="flowctrl", file=None, nodes=nodes, roots=("wide",))

    async def go():
        async with tui(flow, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.task_tree.select("wide", user=True)
            await pilot.pause()
            line = next(line for line in app.view.logs["wide"].lines if line[0] == "stdout")
            assert len(line[2]) == 300_000  # the view's buffer keeps the line whole
            drawn = app.log_view.line_text(*line).plain
            assert drawn.startswith(" " + "x" * 10_000 + " … 290,000 more characters")
            assert app.log_view.virtual_size.width < 10_100

    drive(go())


def test_a_progress_bar_shows_its_last_drawing():
    nodes = {"bar": Node(id="bar", name="bar", action=shell("printf '10%%\\r50%%\\r100%% done\\n'"))}
    flow = FlowDef(name="bar", format="flowctrl", file=None, nodes=nodes, roots=("bar",))

    async def go():
        async with tui(flow, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            line = next(line for line in app.view.logs["bar"].lines if line[0] == "stdout")
            assert line[2] == "10%\r50%\r100% done"  # kept as it came (the run log too)
            assert app.log_view.line_text(*line).plain == " 100% done"

    drive(go())

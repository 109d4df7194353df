"""What the output pane draws: pty colours kept, stderr and hooks marked, a bounded tail."""

from rich.color import Color

from flowtui.engine.model import Action, FlowDef, Node

from .test_tui_keys import drive, shell, sketch, tui, until


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


def screen_text(app):
    """The rows the app's screen draws now, as plain text (what a terminal would show)."""
    return "\n".join("".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips())


def test_selecting_another_task_draws_its_output_even_when_both_look_alike(tmp_path):
    """Two one-line outputs of the same length: switching must still repaint the pane."""
    flow, runtime = sketch(tmp_path, {"s": [{"name": "first", "cmd": "echo apple"}, {"name": "second", "cmd": "echo mango"}]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            app.task_tree.select("s/second", user=True)
            await until(pilot, lambda: "mango" in screen_text(app), "the second task's output")
            app.task_tree.select("s/first", user=True)
            await until(pilot, lambda: "apple" in screen_text(app), "the first task's output")
            assert "mango" not in screen_text(app)

    drive(go())


def test_follow_keeps_the_end_of_an_output_taller_than_the_pane_in_view(tmp_path):
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "warmup", "cmd": "echo warm"},
        {"name": "talk", "cmd": "for i in $(seq 1 40); do echo out $i; done"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert app.follow and app.log_view.task_id == "s/talk"
            await until(pilot, lambda: "■ succeeded (exit 0)" in screen_text(app), "the outcome at the bottom")
            assert "out 40" in screen_text(app)

    drive(go())


def test_control_codes_never_reach_the_terminal():
    """Tabs are expanded (also in coloured lines), BEL-ended OSC sequences are decoded, and NUL,
    SO/SI, unknown escapes… are dropped: only SGR colours are drawn."""
    lines = {
        "tabs": "printf '\\033[32mx\\033[0m\\t\\tEND\\n'",
        "ctrl": "printf 'MARKx\\000y\\001z\\016w\\017v\\033c end\\n'",
        "osc": "printf '\\033]0;my title\\007after-title\\n'",
    }
    nodes = {nid: Node(id=nid, name=nid, action=shell(cmd)) for nid, cmd in lines.items()}
    flow = FlowDef(name="ctrl", format="flowctrl", file=None, nodes=nodes, roots=tuple(nodes))

    async def go():
        async with tui(flow, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            drawn = {}
            for nid in nodes:
                raw = next(line for line in app.view.logs[nid].lines if line[0] == "stdout")
                text = app.log_view.line_text(*raw)
                segments = "".join(segment.text for segment in text.render(app.console))
                assert not [c for c in segments if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0], (nid, segments)
                drawn[nid] = text.plain
            assert drawn["tabs"] == " x" + " " * 15 + "END"  # tab stops every 8 cells of the line
            assert drawn["ctrl"] == " MARKxyzwv end"
            assert drawn["osc"] == " after-title"

    drive(go())


def test_search_finds_what_is_shown_not_escape_codes_or_overwritten_drawings(tmp_path):
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "mixed", "cmd": "printf 'prog 10%%\\rprog 99%%\\n\\033[32mgreen-word\\033[0m\\n'"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            view = app.log_view
            assert view.task_id == "s/mixed"
            for hidden in ("10%", "32m", "\x1b"):
                assert not view.search(hidden), hidden
            assert view.search("99%") and view.search("green-word")
            assert app.view.logs["s/mixed"].lines[view.match][2] == "\x1b[32mgreen-word\x1b[0m"

    drive(go())


def test_a_line_of_wide_characters_scrolls_to_its_end(tmp_path):
    flow, runtime = sketch(tmp_path, {"s": [{"name": "wide", "cmd": "echo " + "日本語" * 30 + " TAIL-END"}]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            view = app.log_view
            assert view.virtual_size.width >= 180 + len(" TAIL-END")
            view.scroll_to(x=view.max_scroll_x, animate=False, immediate=True)
            await until(pilot, lambda: "TAIL-END" in screen_text(app), "the end of the wide line")

    drive(go())


def test_a_line_being_drawn_is_shown_before_it_ends(tmp_path):
    """A progress bar redrawn with \\r, or a prompt waiting for its answer, is on screen while the
    task runs, not only once its line ends."""
    flow, runtime = sketch(tmp_path, {"s": [
        {"name": "bar", "cmd": f"printf '\\rdownloading 40%%'; while [ ! -e {tmp_path}/go ]; do sleep 0.01; done; echo"},
    ]})

    async def go():
        async with tui(flow, runtime, size=(100, 20)) as (app, pilot, run):
            await until(pilot, lambda: "downloading 40%" in screen_text(app), "the drawing while it runs")
            assert run.states["s/bar"].status == "running"
            (tmp_path / "go").touch()
            await until(pilot, lambda: app.view.finished, "the end of the run")
            await until(pilot, lambda: "■ succeeded (exit 0)" in screen_text(app), "the outcome")
            assert screen_text(app).count("downloading 40%") == 1

    drive(go())

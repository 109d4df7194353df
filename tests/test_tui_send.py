"""`i`: a line typed in the TUI goes to the selected task's stdin, locally (pipe or pty) and over
the socket of an attached run; a task that cannot take it is named in a notification."""

import pytest

from flowtui.engine.model import FlowDef, Node
from flowtui.engine.run import Run
from flowtui.screens.app import FlowApp
from flowtui.screens.modals import InputModal

from .test_control_support import Runner, fifo, wait_fifo
from .test_control_support import sketch as sketch_file
from .test_tui_keys import drive, shell, sketch, tui, until
from .test_tui_output import screen_text

PROMPT = "printf 'Continue? [y/N] '; read line; echo \"got $line\""


def notices(app):
    return [notification.message for notification in app._notifications]


def prompted(app, task):
    log = app.view.logs.get(task)
    return log is not None and log.pending is not None and "Continue?" in log.pending[2]


def outputs(app, task):
    return [text for stream, _, text in app.view.logs[task].lines if stream in ("stdout", "pty")]


@pytest.mark.parametrize("pty", [False, True], ids=["pipe", "pty"])
def test_i_sends_the_typed_line_to_the_prompting_task(pty):
    nodes = {"ask": Node(id="ask", name="ask", action=shell(PROMPT), pty=pty)}
    flow = FlowDef(name="ask", format="flowctrl", file=None, nodes=nodes, roots=("ask",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: prompted(app, "ask"), "the prompt")
            app.task_tree.select("ask", user=True)
            await pilot.press("i")
            assert isinstance(app.screen, InputModal)
            assert str(app.screen.query_one("#task-prompt").render()) == "Continue? [y/N]"
            await pilot.press(*"no", "escape")  # cancelled: nothing is sent
            assert not isinstance(app.screen, InputModal) and run.states["ask"].status == "running"
            await pilot.press("i", *"yes", "enter")  # letters are text in the field, not keys
            await until(pilot, lambda: app.view.finished, "the end of the run")
            # a terminal echoes the answer (pty); through a pipe the next output continues the prompt's line
            assert outputs(app, "ask") == (["Continue? [y/N] yes", "got yes"] if pty else ["Continue? [y/N] got yes"])
            assert run.states["ask"].status == "succeeded"
            await until(pilot, lambda: "sent to ask" in notices(app), "the reply")

    drive(go())


def test_i_on_a_task_or_group_that_is_not_running_says_so(tmp_path):
    flow, runtime = sketch(tmp_path, {"s": [{"name": "done", "cmd": "true"}]})

    async def go():
        async with tui(flow, runtime) as (app, pilot, run):
            await until(pilot, lambda: app.view.finished, "the end of the run")
            for selected, message in (("s/done", "s/done is not running (succeeded): only a running task reads input"),
                                      ("s", "s is a group: select its running task to send it a line")):
                app.task_tree.select(selected, user=True)
                await pilot.pause()
                await pilot.press("i")
                assert not isinstance(app.screen, InputModal)
                assert message in notices(app)

    drive(go())


@pytest.mark.parametrize("closed", [False, True], ids=["no-terminal-run", "task-closed-stdin"])
def test_a_line_the_task_cannot_take_is_named_in_a_notification(closed):
    cmd = ("exec 0<&-; " if closed else "") + "printf 'Continue? [y/N] '; sleep 30"
    nodes = {"ask": Node(id="ask", name="ask", action=shell(cmd))}
    flow = FlowDef(name="ask", format="flowctrl", file=None, nodes=nodes, roots=("ask",))
    run = Run(flow, None, run_id="test-run", kill_grace=1.0)
    run.stdin_null = not closed  # as a headless run with nobody to answer: tasks read /dev/null
    expected = "ask does not read input" if closed else "ask reads no input: this run has no terminal"

    async def go():
        async with tui(flow, run=run) as (app, pilot, run_):
            await until(pilot, lambda: prompted(app, "ask"), "the prompt")
            app.task_tree.select("ask", user=True)
            await pilot.press("i", *"yes", "enter")
            await until(pilot, lambda: any(message.startswith(expected) for message in notices(app)), "the refusal")
            assert run.states["ask"].status == "running"

    drive(go())


def test_i_sends_through_the_socket_of_an_attached_run(tmp_path):
    from flowtui.engine.control.client import RemoteSource

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    ready = fifo(tmp_path / "ready")
    flow = sketch_file(tmp_path / "flow.json", {"stage": [{"name": "talk", "cmd": f"echo ready > {ready}; {PROMPT}"}]})
    runner = Runner(flow, state)
    source = None
    try:
        wait_fifo(ready, runner)
        source = RemoteSource(str(state))
        app = FlowApp(source, by="tester", detach=True)

        async def go():
            async with app.run_test(size=(110, 30)) as pilot:
                await until(pilot, lambda: app.view.states["stage/talk"]["status"] == "running", "the task running")
                app.task_tree.select("stage/talk", user=True)
                await pilot.press("i", *"from afar", "enter")
                await until(pilot, lambda: app.view.finished, "the end of the run")
                assert "Continue? [y/N] got from afar" in outputs(app, "stage/talk")
                assert app.view.states["stage/talk"]["status"] == "succeeded"

        drive(go())
        assert runner.wait() == 0
        assert "[stage/talk] Continue? [y/N] got from afar" in runner.output
    finally:
        if source is not None:
            source.close()
        runner.close()


SECRET = "bash -c 'read -s -p \"[sudo] password for ana: \" p; echo; echo \"got ${#p} characters\"'"


def test_a_password_prompt_is_answered_without_showing_the_password():
    """`read -s` turns the task's terminal echo off; the dialog must not draw what is typed
    either. A prompt asking for a password, passphrase, PIN or token masks the field (Ctrl+R shows
    it); any other prompt does not."""
    nodes = {"sudo": Node(id="sudo", name="sudo", action=shell(SECRET), pty=True)}
    flow = FlowDef(name="secret", format="flowctrl", file=None, nodes=nodes, roots=("sudo",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: (log := app.view.logs.get("sudo")) is not None and log.pending is not None,
                        "the prompt")
            app.task_tree.select("sudo", user=True)
            await pilot.press("i", *"hunter2")
            field = app.screen.query_one("#line")
            assert field.password
            assert "hunter2" not in screen_text(app)
            await pilot.press("ctrl+r")
            assert not field.password
            await pilot.press("ctrl+r", "enter")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert "got 7 characters" in outputs(app, "sudo")

    drive(go())


def test_an_ordinary_prompt_shows_what_is_typed():
    nodes = {"ask": Node(id="ask", name="ask", action=shell(PROMPT))}
    flow = FlowDef(name="ask", format="flowctrl", file=None, nodes=nodes, roots=("ask",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: prompted(app, "ask"), "the prompt")
            app.task_tree.select("ask", user=True)
            await pilot.press("i", *"yes")
            assert not app.screen.query_one("#line").password
            assert "yes" in screen_text(app)
            await pilot.press("enter")
            await until(pilot, lambda: app.view.finished, "the end of the run")

    drive(go())


def test_a_pty_task_prompting_on_dev_tty_is_answered_with_i():
    """ssh, sudo, git and getpass ask on /dev/tty, not stdin: a pty task must have its terminal as
    its controlling terminal, or they fail (`cannot open /dev/tty`) or fall back to an echoing stdin."""
    cmd = "printf 'Passphrase for key: ' > /dev/tty && read -r p < /dev/tty && echo \"got $p\""
    nodes = {"ssh": Node(id="ssh", name="ssh", action=shell(cmd), pty=True)}
    flow = FlowDef(name="tty", format="flowctrl", file=None, nodes=nodes, roots=("ssh",))

    async def go():
        async with tui(flow) as (app, pilot, run):
            await until(pilot, lambda: (log := app.view.logs.get("ssh")) is not None
                        and (log.pending is not None or app.view.finished), "the prompt")
            assert run.states["ssh"].status == "running", outputs(app, "ssh")
            app.task_tree.select("ssh", user=True)
            await pilot.press("i", *"opensesame", "enter")
            await until(pilot, lambda: app.view.finished, "the end of the run")
            assert "got opensesame" in outputs(app, "ssh")
            assert run.states["ssh"].status == "succeeded"

    drive(go())

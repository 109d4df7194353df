"""`system/exec:execute`: commands in one shell session, streamed live, Fluxor-shaped output.

Every command runs in the same bash process (so `cd` and `export` carry over). After each one the
script prints a marker line carrying its exit status; the markers are taken out of the streamed
output and split it per command. A non-zero exit is data (`status` in the output), not a task
failure, as in Fluxor, unless the extension input `failOnError: true` is given.
"""

import os
import re

from ..process import Process
from .inputs import bool_field, field, text_field
from .values import stringify

# Fluxor refuses these without `workdir` (input.go). Matched as words, not substrings (docs/fluxor.md).
_GUARDED = re.compile(
    r"(?<![\w.-])(ls|cat|touch|rm|mv|cp|mkdir|rmdir|find|chmod|chown|stat|du|df|head|tail|more|less|"
    r"readlink|ln|rg|sed|tree|basename|dirname)(?![\w.-])|(?<![\w.])os\."
)
TIMEOUT_STATUS = -101


def _shell():
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


def execute(ctx, data):
    raw = field(data, "commands") or []
    commands = [stringify(c) for c in (raw if isinstance(raw, list) else [raw])]
    workdir = text_field(data, "workdir")
    env_input = field(data, "env") or {}
    timeout_ms = field(data, "timeoutMs") or 180000
    abort = bool_field(data, "abortOnError", True)
    fail_on_error = bool_field(data, "failOnError", False)
    if not workdir:
        for command in commands:
            if _GUARDED.search(command):
                ctx.done(1, error=f"workdir is required for {command}", errored=True)
                return
    cwd = ctx.cwd
    if workdir:
        cwd = workdir if os.path.isabs(workdir) else os.path.join(ctx.cwd or os.getcwd(), workdir)
        if not os.path.isdir(cwd):
            ctx.done(1, error=f"workdir {workdir}: no such directory", errored=True)
            return
    env = dict(ctx.env)
    if isinstance(env_input, dict):
        env.update({str(k): stringify(v) for k, v in env_input.items()})
    if not commands:
        ctx.done(0, output={"commands": [], "stdout": "", "stderr": "", "status": 0})
        return
    Session(ctx, commands, cwd, env, float(timeout_ms) / 1000.0, abort, fail_on_error).start()


class Session:
    def __init__(self, ctx, commands, cwd, env, timeout, abort, fail_on_error):
        self.ctx, self.commands, self.cwd, self.env = ctx, commands, cwd, env
        self.timeout, self.abort, self.fail_on_error = timeout, abort, fail_on_error
        self.marker = "__fluxor_" + os.urandom(6).hex()
        self.results = [{"input": c, "stdout": [], "stderr": [], "status": None} for c in commands]
        self.index = {"stdout": 0, "stderr": 0}
        self.held = {"stdout": False, "stderr": False}  # an empty line that may be the marker's own newline
        self.timer = None
        self.timed_out = None

    def script(self):
        parts = []
        for command in self.commands:
            step = (
                f"{command}\n__s=$?; printf '\\n{self.marker} %d\\n' \"$__s\"; printf '\\n{self.marker}\\n' >&2"
            )
            if self.abort:
                step += '; [ "$__s" -eq 0 ] || exit "$__s"'
            parts.append(step)
        return "\n".join(parts) + "\n"

    def start(self):
        proc = Process(
            self.ctx.reactor, [_shell(), "-c", self.script()], env=self.env, cwd=self.cwd, pty=False,
            owns_cwd=self.ctx.run.owns_cwd, stdin_null=self.ctx.run.stdin_null,
            on_output=lambda stream, text: self.lines(stream, text.split("\n")), on_exit=self.exited,
        )
        self.proc = proc
        self.ctx.processes.append(proc)
        self.ctx.on_cancel(self.stop_timer)
        self.arm()

    def arm(self):
        self.stop_timer()
        self.timer = self.ctx.reactor.call_later(self.timeout, self.expired)

    def stop_timer(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expired(self):
        self.timer = None
        current = min(self.index["stdout"], len(self.commands) - 1)
        self.timed_out = current
        self.ctx.output("stderr", [f"flowtui: command {self.commands[current]!r} timed out after {self.timeout:g}s"])
        self.proc.terminate(self.ctx.run.kill_grace)

    def lines(self, stream, lines):
        shown = []
        for line in lines:
            index = self.index[stream]
            if line.startswith(self.marker):
                self.held[stream] = False
                if index < len(self.results) and stream == "stdout":
                    self.results[index]["status"] = int(line.split()[1])
                self.index[stream] = index + 1
                if stream == "stdout":
                    self.arm()
                continue
            if self.held[stream]:
                shown.append("")
                self._keep(stream, "")
                self.held[stream] = False
            if line == "":
                self.held[stream] = True
                continue
            shown.append(line)
            self._keep(stream, line)
        if shown:
            self.ctx.output(stream, shown)

    def _keep(self, stream, line):
        index = min(self.index[stream], len(self.results) - 1)
        self.results[index][stream].append(line)

    def exited(self, code):
        self.stop_timer()
        for stream in ("stdout", "stderr"):
            if self.held[stream]:
                self._keep(stream, "")
                self.ctx.output(stream, [""])
        ran = [r for r in self.results if r["status"] is not None]
        if self.timed_out is not None:
            self.results[self.timed_out]["status"] = TIMEOUT_STATUS
            self.results[self.timed_out]["stderr"].append(
                f"command {self.commands[self.timed_out]} timed out after: {self.timeout * 1000:g}ms"
            )
            ran = self.results[: self.timed_out + 1]
        elif len(ran) < len(self.results) and (code != 0 or not ran):
            self.results[len(ran)]["status"] = code  # the shell itself exited (e.g. `exit 3`)
            ran = self.results[: len(ran) + 1]
        status = ran[-1]["status"] if ran else code
        commands, stdout, stderr = [], [], []
        for result in ran:
            out, err = "\n".join(result["stdout"]), "\n".join(result["stderr"])
            commands.append({"input": result["input"], "output": out if result["status"] == 0 else "",
                             "stderr": err if result["status"] == 0 else (err or out), "status": result["status"]})
            if out.strip():
                stdout.append(out)
            if err.strip():
                stderr.append(err)
        failed = next((r for r in ran if r["status"] != 0), None)
        stderr_text = "\n".join(stderr).strip()
        if failed is not None and not stderr_text:
            stderr_text = f"command {failed['input']} exited with non-zero exit code"
        output = {"commands": commands, "stdout": "\n".join(stdout).strip(), "stderr": stderr_text, "status": status}
        if self.fail_on_error and status != 0:
            self.ctx.done(status if status > 0 else 1, output=output, error=f"command {failed['input'] if failed else ''} exited with {status}")
        else:
            self.ctx.done(status, output=output)

"""Floe node types as engine actions (§8): trigger, exec, fetch, git-checkout, git-merge, timer,
data, merge, end, and unknown types. Each reads its input opts from the runtime (event opts
merged with the node's own, §7.4) and finishes with Floe's outcome: an exit status, or `errored`
for what Floe reports as `task.<id>.error`.
"""

import os

from ..events import Notice
from .expand import expand_env, expand_ws
from .opts import get_ci, merge_opts, period_seconds, scalar_env

ERROR_STATUS = 255


def _error(ctx, message):
    ctx.output("stderr", [f"floe: {message}"])
    ctx.done(ERROR_STATUS, error=message, errored=True)


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# -- trigger: locks, workspace, then trigger.good with the pend opts --------------------------------
def trigger(ctx):
    runtime = ctx.run.runtime
    pending = {"timer": None, "told": False}

    def cancel():
        if pending["timer"] is not None:
            pending["timer"].cancel()
            ctx.done(1, error="cancelled while waiting for locks")

    def attempt():
        pending["timer"] = None
        busy = runtime.locks.try_acquire()
        if busy:
            if not pending["told"]:
                pending["told"] = True
                waits = "; ".join(what + (f" (held by {holder})" if holder else "") for what, holder in busy)
                ctx.run.emit(Notice("info", f"waiting for {waits}", ctx.node.id))
            pending["timer"] = ctx.reactor.call_later(0.2, attempt)
            return
        try:
            runtime.make_workspace()
        except OSError as exc:
            ctx.done(1, error=f"cannot create the workspace {runtime.workspace}: {exc.strerror or exc}")
            return
        ctx.output("stdout", [f"workspace {runtime.workspace}"])
        poll = ctx.params.get("poll")
        if poll:
            _poll(ctx, poll)
        else:
            ctx.done(0, output=dict(ctx.params["opts"]))

    ctx.on_cancel(cancel)
    attempt()


def _poll(ctx, spec):
    from ..process import Process
    from .triggers import git_env, ls_remote_argv, pick_ref

    listing = []

    def output(stream, text):
        if stream == "stdout":
            listing.append(text)
        else:
            ctx.output_text(stream, text)

    def finished(code):
        if code != 0:
            ctx.done(code, error=f"git ls-remote {spec['url']} exited {code}")
            return
        picked = pick_ref(spec, "\n".join(listing))
        if isinstance(picked, str):
            ctx.done(1, error=picked)
            return
        ctx.output("stdout", [f"{picked['branch']} at {picked['hash']}"])
        ctx.done(0, output=merge_opts(ctx.params["opts"], picked))

    proc = Process(ctx.reactor, ls_remote_argv(spec), env=git_env(ctx.run.runtime.git_key), cwd=None,
                   stdin_null=ctx.run.stdin_null, on_output=output, on_exit=finished)
    ctx.processes.append(proc)


# -- exec (§8.1) ------------------------------------------------------------------------------------
def exec_(ctx):
    runtime = ctx.run.runtime
    ws = runtime.workspace
    event = runtime.event_opts(ctx.node)
    opts = runtime.in_opts(ctx.node, event)
    cmd, shell = get_ci(opts, "cmd") or "", False
    if not cmd:
        cmd, shell = get_ci(opts, "shell") or "", True
    args = get_ci(opts, "args") or []
    env_list = opts.get("env") or []
    own_env = ctx.params["opts"].get("env")
    if not isinstance(cmd, str) or not _strings(args) or not _strings(env_list) or not (own_env is None or _strings(own_env)):
        _error(ctx, "bad opts: cmd and shell are strings; args and env are lists of strings")
        return
    if not cmd:
        _error(ctx, "missing cmd or shell option")
        return
    if not args:
        parts = cmd.split(" ")
        if len(parts) > 1:
            cmd, args = parts[0], parts[1:]
    if shell:
        args, cmd = ["-c", cmd + " " + " ".join(args)], "bash"
    expand = opts.get("expand", True) is not False  # flowtui extension: `expand: false` keeps $VAR text
    env_list = [expand_env(e, ws, env_vars=expand) for e in env_list]
    args = [expand_env(a, ws, env_vars=expand) for a in args]
    cmd = expand_ws(cmd, ws, env_vars=expand)
    env = dict(ctx.env)
    env.update(scalar_env(event))
    for entry in env_list:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
        parts = entry.split("=")
        if len(parts) == 2 and parts[0] == "PATH":
            cmd = _look_path(cmd, parts[1]) or cmd
    key = opts.get("git-key") or opts.get("key-file")
    if isinstance(key, str) and key:
        env["GIT_SSH_COMMAND"] = f"ssh -i {key}"
    env["FLOEWS"] = ws
    cwd = os.path.join(ws, str(get_ci(opts, "sub-dir") or ""))
    if not os.path.isdir(cwd):  # one stat when it exists, as it does after the first task
        os.makedirs(cwd, exist_ok=True)
    ctx.spawn([cmd, *args], env=env, cwd=cwd)


def _look_path(cmd, path):
    if "/" in cmd:
        return cmd if os.path.isfile(cmd) and os.access(cmd, os.X_OK) else None
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", cmd)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# -- fetch (§8.2) -----------------------------------------------------------------------------------
def fetch(ctx):
    from .fetching import plan, run_in_thread

    runtime = ctx.run.runtime
    opts = runtime.in_opts(ctx.node)
    job = plan(opts, runtime.workspace, runtime.cache_dir)
    if isinstance(job, str):
        _error(ctx, job)
        return
    run_in_thread(ctx, job)


# -- git (§8.3, §8.4) -------------------------------------------------------------------------------
def _git_env(opts):
    from .triggers import git_env

    return git_env(opts.get("git-key") or opts.get("key-file") or "")


def git_checkout(ctx):
    runtime = ctx.run.runtime
    opts = runtime.in_opts(ctx.node)
    url, branch = opts.get("url"), opts.get("branch")
    if not url or not branch:
        _error(ctx, "git-checkout needs `url` and `branch` opts" + ("" if url else " (no url)") + ("" if branch else " (no branch)"))
        return
    cwd = os.path.join(runtime.workspace, str(opts.get("sub-dir") or ""))
    os.makedirs(cwd, exist_ok=True)
    ctx.output("stdout", [f"git clone --branch {branch} --depth 1 {url}"])
    ctx.spawn(["git", "clone", "--branch", str(branch), "--depth", "1", str(url)], env=_git_env(opts), cwd=cwd)


def git_merge(ctx):
    opts = ctx.run.runtime.in_opts(ctx.node)
    missing = [k for k in ("url", "branch", "from-branch") if not opts.get(k)]
    if missing:
        _error(ctx, "git-merge needs " + ", ".join(f"`{k}`" for k in missing))
        return
    ctx.output("stdout", [f"git checkout: {opts['url']} merge into: {opts['branch']} from: {opts['from-branch']}"])
    ctx.done(0, output={})


# -- timer, data, merge, end, unknown ---------------------------------------------------------------
def timer(ctx):
    opts = ctx.run.runtime.in_opts(ctx.node)
    period = period_seconds(ctx.params["opts"].get("period"))
    if not period:
        ctx.done(0, output=opts)
        return
    ctx.output("stdout", [f"waiting {period:g}s"])
    handle = ctx.reactor.call_later(period, lambda: ctx.done(0, output=opts))

    def cancel():
        handle.cancel()
        ctx.done(1)

    ctx.on_cancel(cancel)


def data(ctx):
    values = dict(ctx.state.values or {})
    form = get_ci(ctx.params["opts"], "form")
    shown = dict(form) if isinstance(form, dict) else {}
    fields = get_ci(shown, "fields")
    if isinstance(fields, list):
        shown["fields"] = [
            {**f, "value": values.get(str(get_ci(f, "id")), "")} if isinstance(f, dict) else f for f in fields
        ]
    for key, value in values.items():
        ctx.output("stdout", [f"{key}: {value}"])
    ctx.done(0, output={"form": shown, "values": values})


def merge(ctx):
    ctx.done(0, output=ctx.run.runtime.event_opts(ctx.node))


def end(ctx):
    ctx.done(0, output={})


def unknown(ctx):
    _error(ctx, f"no node type found: {ctx.params.get('type')}")


ACTIONS = {
    "floe-trigger": trigger, "floe-exec": exec_, "floe-fetch": fetch, "floe-git-checkout": git_checkout,
    "floe-git-merge": git_merge, "floe-timer": timer, "floe-data": data, "floe-merge": merge,
    "floe-end": end, "floe-unknown": unknown,
}

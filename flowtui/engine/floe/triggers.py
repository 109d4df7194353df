"""Which trigger starts a one-shot run, and the opts its `trigger.good` carries (§6, §11.3).

data → its opts with the form answers (`--set`) merged in at the top level; timer → its opts;
poll-git → its opts plus `url`, `branch`, `hash` of a ref from `git ls-remote`.
"""

import os
import re

from ..diagnostics import Diagnostic, FlowError, NeedsChoice
from .opts import approval_for, get_ci, merge_opts
from .yamlpos import plain

SYNTHETIC_ID = "trigger"


def choose(path, flow, options):
    """The trigger NodeConf to fire (None: the flow has none, a synthetic trigger starts it)."""
    wanted = (options.get("trigger") or "").strip()
    triggers = flow.triggers
    if wanted:
        for trig in triggers:
            if trig.id == wanted.lower() or trig.name == wanted:
                if trig.type == "git-push":
                    raise FlowError([Diagnostic(trig.file, *trig.loc, f"trigger `{trig.id}` is a git-push trigger, which Floe never fires: pick another with --trigger")])
                return trig
        listed = ", ".join(t.id for t in triggers) or "none"
        raise FlowError([Diagnostic(flow.file, *flow.loc, f"flow `{flow.id}` has no trigger `{wanted}` (triggers: {listed})")])
    usable = [t for t in triggers if t.type != "git-push"]
    data = [t for t in usable if t.type == "data"]
    if data:
        return data[0]
    if len(usable) == 1:
        return usable[0]
    if usable:
        raise NeedsChoice(path, "trigger", [(t.id, t.name) for t in usable])
    return None


def fire(trig, options, check):
    """(pend opts, inputs Approval or None, missing field ids) for a run started by `trig`.

    A poll-git trigger's ref is looked up when the run starts (`poll_spec`, `resolve_poll`).
    """
    sets = dict(options.get("sets") or {})
    if trig is None:
        return sets, None, []
    opts = plain(trig.opts)
    if trig.type == "data":
        return _data(trig, opts, sets, check)
    return merge_opts(opts, sets), None, []


def poll_spec(trig, pend):
    """What `git ls-remote` needs for a poll-git trigger (None for other triggers)."""
    if trig is None or trig.type != "poll-git":
        return None
    opts = trig.opts
    return {
        "url": str(opts.get("url") or ""), "refs": str(opts.get("refs") or "refs/*"),
        "excludes": [str(opts[k]) for k in ("exclude", "exclude-refs") if opts.get(k)],
        "branch": pend.get("branch") if "branch" in pend and "branch" not in opts else None,
    }


def _data(trig, opts, sets, check):
    from ..run import check_values

    form = get_ci(opts, "form")
    inputs = approval_for(form, trig.name) if isinstance(form, dict) else None
    answers, missing = {}, []
    for field in inputs.fields if inputs else ():
        if field.id in sets:
            try:
                answers.update(check_values([field], {field.id: sets[field.id]}))
            except ValueError as exc:
                check.error(trig.loc, f"trigger `{trig.id}`: {exc}")
        elif field.default is not None:
            answers[field.id] = field.default
        else:
            missing.append(field.id)
    extra = {k: v for k, v in sets.items() if k not in answers}
    return merge_opts(merge_opts(opts, answers), extra), inputs, missing


def git_env(git_key):
    env = dict(os.environ)
    if git_key:
        env["GIT_SSH_COMMAND"] = f"ssh -i {git_key}"
    return env


def ls_remote_argv(spec):
    return ["git", "ls-remote", "--refs", spec["url"], spec["refs"]]


def pick_ref(spec, listing):
    """{url, branch, hash} of the ref to build (the `--set branch=` one, else the first), or an error text."""
    if not spec["url"]:
        return "poll-git needs a `url`"
    found = poll_refs(listing, spec["excludes"])
    if not found:
        return f"no ref of {spec['url']} matches {spec['refs']}"
    for name, digest in found:
        if spec["branch"] is None or name == spec["branch"]:
            return {"url": spec["url"], "branch": name, "hash": digest}
    return f"no ref named {spec['branch']} (refs: {', '.join(n for n, _ in found)})"


def resolve_poll(trig, spec, git_key):
    """Run `git ls-remote` now (a git flow-file needs the branch before the run exists)."""
    import subprocess

    where = Diagnostic(trig.file, *trig.loc, "")
    try:
        proc = subprocess.run(ls_remote_argv(spec), capture_output=True, text=True, env=git_env(git_key), timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FlowError([_at(where, f"poll-git trigger `{trig.id}`: {exc}")]) from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise FlowError([_at(where, f"poll-git trigger `{trig.id}`: git ls-remote {spec['url']}: {last}")])
    picked = pick_ref(spec, proc.stdout)
    if isinstance(picked, str):
        raise FlowError([_at(where, f"poll-git trigger `{trig.id}`: {picked}")])
    return picked


def poll_refs(listing, excludes):
    """[(name, hash)] from `git ls-remote` output: names are everything after `refs/<kind>/`."""
    patterns = [re.compile(str(p)) for p in excludes]
    out = []
    for line in listing.splitlines():
        digest, _, ref = line.partition("\t")
        parts = ref.split("/")
        if len(parts) < 3 or parts[0] != "refs" or any(p.search(ref) for p in patterns):
            continue
        name = "/".join(parts[2:])
        out.append((name[:-3] if name.endswith("^{}") else name, digest))
    return out


def _at(where, message):
    return Diagnostic(where.file, where.line, where.col, message)

"""`flow-file:` references (§4.3): a local path, an http(s) URL or `git@host:org/repo.git/path`.

The file's definition replaces the configured one for this run; the config's triggers stay.
"""

import os

from ..diagnostics import Diagnostic, FlowError, unreadable
from .config import Checker, parse_flow
from .triggers import git_env
from .yamlpos import parse


def kind(ref):
    if "git@" in ref:
        return "git"
    return "web" if ref.startswith("http") else "local"


def load(flow, config_path, pend_opts, git_key):
    """The FlowConf read from `flow.flow_file`; raises FlowError located at the reference."""
    ref = flow.flow_file
    where = (flow.file, *flow.flow_file_loc)
    ref_kind = kind(ref)
    if ref_kind == "local":
        path = ref if os.path.isabs(ref) else os.path.join(os.path.dirname(os.path.abspath(config_path)), ref)
        text = _read(path, where)
        return _parse(path, text, where)
    if ref_kind == "web":
        return _parse(ref, _download(ref, where), where)
    return _parse(ref, _clone(ref, pend_opts.get("branch"), git_key, where), where)


def apply(flow, loaded):
    """Floe's override rules, with `reuse-space` taken only when the file sets it."""
    if loaded.name and "name" in loaded.present:
        flow.name = loaded.name
    if "reuse-space" in loaded.present:
        flow.reuse_space = loaded.reuse_space
    for attr in ("host_tags", "resource_tags", "env", "tasks"):
        if getattr(loaded, attr):
            setattr(flow, attr, getattr(loaded, attr))
    return flow


def _fail(where, message):
    return FlowError([Diagnostic(where[0], where[1], where[2], message)])


def _read(path, where):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL in the path
        raise _fail(where, f"flow-file {path}: {unreadable(exc)}") from None


def _parse(label, text, where):
    data = parse(label, text)
    if data is None:
        from ..loaders import EMPTY

        raise _fail(where, f"flow-file {label}: {EMPTY}")
    if not isinstance(data, dict):
        raise _fail(where, f"flow-file {label}: expected a flow (a mapping with `tasks`)")
    check = Checker(label)
    loaded = parse_flow(check, data, "flow file")
    if check.errors:
        raise FlowError(check.errors)
    loaded.present = set(data)
    return loaded


def _download(url, where):
    from urllib.request import urlopen

    try:
        with urlopen(url, timeout=60) as response:  # noqa: S310 - the flow's own reference
            return response.read().decode("utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _fail(where, f"flow-file {url}: {exc}") from None


def _clone(ref, branch, git_key, where):
    parts = ref.split("/")
    if len(parts) < 3:
        raise _fail(where, f"flow-file {ref}: expected git@host:org/repo.git/path/to/flow.yml")
    repo, file_path = "/".join(parts[:2]), "/".join(parts[2:])
    if not branch:
        raise _fail(where, f"flow-file {ref} is cloned at the trigger's `branch`, which has no value (--set branch=NAME)")
    import subprocess  # only for flows kept in git: not on every Floe run's start-up
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flowtui-floe-") as tmp:
        proc = subprocess.run(
            ["git", "clone", "--branch", str(branch), "--depth", "1", repo, "repo"], cwd=tmp,
            capture_output=True, text=True, env=git_env(git_key), timeout=300,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise _fail(where, f"flow-file {ref}: git clone --branch {branch} {repo}: {last}")
        return _read(os.path.join(tmp, "repo", file_path), where)

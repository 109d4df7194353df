"""Floe host configs (`common` + `flows`) and flow files -> FlowDef, and the Floe run-time.

The trigger is chosen and fired here (form answers from `--set`, timer opts, `git ls-remote`), and
a `flow-file` is read then, as Floe does when a trigger matches, so the run gets its definition.
"""

from ..diagnostics import Diagnostic, FlowError, NeedsChoice
from ..model import FlowDef


def load(path, text, options, document=None) -> FlowDef:
    """`document`: yamlpos's parse of `text`, when detection already made it."""
    from ..floe import flowfile, graph, lint, triggers, yamlpos
    from ..floe.opts import merge_opts

    options = options if options is not None else {}
    common, flow, check, warnings = _select(path, yamlpos.parse(path, text) if document is None else document, options)
    trig = triggers.choose(path, flow, options)
    pend, inputs, missing = triggers.fire(trig, options, check)
    _raise(check.errors)
    poll = triggers.poll_spec(trig, pend)
    if flow.flow_file:
        if poll and flowfile.kind(flow.flow_file) == "git":
            pend, poll = merge_opts(pend, triggers.resolve_poll(trig, poll, common.git_key)), None
        if flowfile.kind(flow.flow_file) == "git" and not pend.get("branch") and "branch" in missing:
            warnings.append(Diagnostic(path, *flow.flow_file_loc, "the flow-file is cloned once the form's `branch` is answered", "warning"))
        else:
            flowfile.apply(flow, flowfile.load(flow, path, pend, common.git_key))
    trigger_id = trig.id if trig else _free_id(triggers.SYNTHETIC_ID, {t.id for t in flow.tasks})
    nodes, roots, graph_warnings = graph.build(flow, trig, trigger_id, pend, poll)
    extra = {
        "floe": {
            "flow_id": flow.id, "ver": flow.ver, "trigger": trigger_id, "trigger_type": trig.type if trig else "",
            "env": list(flow.env), "reuse_space": flow.reuse_space, "resource_tags": list(flow.resource_tags),
            "host_tags": list(flow.host_tags), "hosts": list(common.hosts), "workspace_root": common.workspace_root,
            "store_root": common.store_root, "git_key": common.git_key, "flow_file": flow.flow_file,
        },
    }
    if inputs is not None and inputs.fields:
        extra["inputs"] = inputs
        extra["missing_inputs"] = list(missing)
    return FlowDef(
        name=flow.name, format="floe", file=path, nodes=nodes, roots=tuple(roots),
        warnings=tuple(warnings + graph_warnings + lint.lint(flow, set(roots))), extra=extra,
    )


def _select(path, data, options):
    """(common, the flow to run, its checker, warnings so far) of a host config or a flow file."""
    from ..floe import config

    if not isinstance(data, dict):
        raise FlowError([Diagnostic(path, 1, 1, "a Floe file is a mapping: a host config (`common`, `flows`) or a flow (`tasks`)")])
    if "flows" not in data and "common" not in data:
        check = config.Checker(path)
        config.repeated_keys(check, data)
        flow = config.parse_flow(check, data, "the flow file")
        _raise(check.errors)
        return config.Common(), flow, check, list(check.warnings)
    head = config.Checker(path)
    config.repeated_keys(head, data)
    head.unknown_keys(data, ("common", "flows"), "the host config")
    common = config.parse_common(head, data)
    checks, flows = [], []
    for i, entry in enumerate(head.items(data, "flows", "the host config")):
        checks.append(config.Checker(path))
        flows.append(config.parse_flow(checks[-1], entry, f"flow {i + 1}"))
    _raise(head.errors + [e for c in checks for e in c.errors])
    if not flows:
        raise FlowError([Diagnostic(path, *data.loc, "the host config has no flows")])
    index = _pick(path, data, flows, options.get("flow"))
    return common, flows[index], checks[index], head.warnings + checks[index].warnings


def runtime(flow, options):
    from ..floe.runtime import FloeRuntime

    return FloeRuntime(flow, state_dir=(options or {}).get("state_dir"))


def _raise(errors):
    if errors:
        raise FlowError(errors)


def _pick(path, data, flows, wanted):
    if wanted:
        for i, flow in enumerate(flows):
            if flow.id == str(wanted).strip().lower() or flow.name == wanted:
                return i
        listed = ", ".join(f.id for f in flows)
        raise FlowError([Diagnostic(path, *data.key_loc["flows"], f"no flow `{wanted}` here (flows: {listed})")])
    if len(flows) > 1:
        raise NeedsChoice(path, "flow", [(f.id, f.name) for f in flows])
    return 0


def _free_id(base, taken):
    candidate, n = base, 1
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate

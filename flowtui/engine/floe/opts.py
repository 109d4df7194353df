"""Floe opts: free-form maps merged along events (§7.4 `MergeOpts`)."""


def merge_opts(left, right):
    """A new map: `left`, then every key of `right` (right wins), except `env` lists, which concatenate."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        if key == "env" and key in out:
            lists = [v for v in (out[key], value) if isinstance(v, list)]
            out[key] = [item for v in lists for item in v] if lists else None
        else:
            out[key] = value
    return out


def get_ci(mapping, key, default=None):
    """Case-insensitive key lookup, as mapstructure decodes Go structs without tags (`Form`, `Fields`…)."""
    if not isinstance(mapping, dict):
        return default
    if key in mapping:
        return mapping[key]
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == key:
            return value
    return default


def form_fields(form):
    """(title, [(id, prompt, type, value)]) of a Floe form opt, or None when it is not a form."""
    if not isinstance(form, dict):
        return None
    fields = []
    listed = get_ci(form, "fields")
    for field in listed if isinstance(listed, list) else ():  # (a data node's malformed form is a load error)
        if isinstance(field, dict) and get_ci(field, "id") not in (None, ""):
            value = get_ci(field, "value")
            fields.append((
                str(get_ci(field, "id")), str(get_ci(field, "prompt") or get_ci(field, "id")),
                str(get_ci(field, "type") or "text"), None if value is None else str(value),
            ))
    return str(get_ci(form, "title") or ""), fields


def approval_for(form, fallback_title):
    """The engine's Approval for a Floe form: `bool` fields are yes/no, `value` is the default."""
    from ..model import Approval, Field

    title, fields = form_fields(form) or ("", [])
    return Approval(prompt=title or fallback_title, fields=tuple(
        Field(id=fid, prompt=prompt, type="bool" if ftype == "bool" else "text", default=value, required=True)
        for fid, prompt, ftype, value in fields
    ))


def scalar_env(opts, prefix="FLOE_"):
    """Top-level scalar opts (and a data task's `values`) as `FLOE_<KEY>` variables (a flowtui extension)."""
    env = {}
    items = list((opts or {}).items())
    if isinstance((opts or {}).get("values"), dict):
        items += list(opts["values"].items())
    for key, value in items:
        if isinstance(value, (str, int, float, bool)) and not isinstance(value, dict):
            name = prefix + "".join(c if c.isalnum() else "_" for c in str(key)).upper()
            env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


# The longest Go duration (time.Duration's int64 nanoseconds): about 292 years.
MAX_PERIOD = (2**63 - 1) / 1e9


def period_seconds(value):
    """A timer's period in seconds; 0 when absent or not a number (a bool is not one, though 1 == True),
    negative, infinite or longer than a Go duration holds (the loader warns)."""
    if value is None or isinstance(value, bool) or value == "":
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if 0 < seconds <= MAX_PERIOD else 0.0

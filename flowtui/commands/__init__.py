"""Subcommands beyond run/validate/graph: history (`runs show logs purge`) and live control.

Each module's `add_parsers(subparsers)` only defines arguments; handlers import what they use,
so these commands cost nothing on `flowtui run`'s start-up. Every parser sets `handler`, called
as `handler(args, out, err) -> exit code`.
"""

from . import control, history


def add_parsers(subparsers):
    history.add_parsers(subparsers)
    control.add_parsers(subparsers)

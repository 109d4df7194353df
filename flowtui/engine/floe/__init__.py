"""Floe flows (floeit/floe): id rules, lint, expansion, workspaces, task types and run-time events."""

"""Fluxor workflow semantics: YAML nodes, expressions, expansion, the runtime and built-in actions.

Imported only when a Fluxor workflow is loaded (`flowtui.engine.loaders.fluxor`).
"""

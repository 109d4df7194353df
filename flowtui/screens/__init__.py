"""The Textual TUI (imports textual; the engine never imports this package)."""

"""flowtui: one terminal workflow runner for Flow-CTRL sketches, Fluxor workflows and Floe flows."""

__version__ = "0.1.0"

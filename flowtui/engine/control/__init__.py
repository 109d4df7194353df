"""Steering a live run from another process: a Unix socket per run speaking JSON Lines.

`server.ControlServer` lives in the runner (on its reactor); `client` holds the blocking client
and the remote viewer source used by `flowtui attach`.
"""

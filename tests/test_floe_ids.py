"""Floe id/name normalisation: the vectors of config_test.go TestZeroNID (spec §4.1)."""

import pytest

from flowtui.engine.floe.ids import IdError, normalise


@pytest.mark.parametrize(("node_id", "name", "want"), [
    ("a-b", "", ("a-b", "a b")),
    ("", "a b.2", ("a-b-2", "a b.2")),
    ("a-b--", "", ("a-b", "a b")),
    ("--a-b..", "", ("a-b", "a b")),
    ("", "Sign Off", ("sign-off", "Sign Off")),
    ("", "Go Version", ("go-version", "Go Version")),
    ("", "Every 5 Minutes", ("every-5-minutes", "Every 5 Minutes")),
    ("signed", "Wait For Tests and Sign Off", ("signed", "Wait For Tests and Sign Off")),
    ("Build-OSX", "", ("build-osx", "build osx")),
    ("", "a  b", ("a--b", "a  b")),
])
def test_normalise(node_id, name, want):
    assert normalise(node_id, name) == want


@pytest.mark.parametrize(("node_id", "name", "message"), [
    ("", "", "id and name can not both be empty"),
    ("a.b", "", "a specified id can not contain spaces or full stops"),
    ("a b", "", "a specified id can not contain spaces or full stops"),
    (" .- ", "..", "id and name can not both be empty"),
])
def test_rejected(node_id, name, message):
    with pytest.raises(IdError, match=message):
        normalise(node_id, name)

"""A headless run stays light: no Textual, Rich or asyncio, and no jsonschema for a valid file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from flowtui.cli import main
code = main(sys.argv[1:])
with open({out!r}, "w") as handle:
    handle.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""
HEAVY = ("textual", "rich", "asyncio")


def loaded_modules(tmp_path, *args):
    out = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(out=str(out)), *args], cwd=tmp_path, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(out.read_text().split())


@pytest.fixture
def sketch(tmp_path):
    path = tmp_path / "sketch.json"
    path.write_text(json.dumps({"one": [{"name": "a", "cmd": "echo hi", "setup-cmd": "true", "timeout": "5s"}]}))
    return str(path)


def heavy(modules, names):
    return sorted(m for m in modules if m.split(".")[0] in names)


def test_headless_run_never_imports_the_tui(tmp_path, sketch):
    modules = loaded_modules(tmp_path, "run", sketch, "--no-ui", "--state-dir", str(tmp_path / "state"))
    assert "flowtui.engine.run" in modules  # the probe saw a real run
    assert heavy(modules, HEAVY + ("flowtui.screens",)) == []
    assert not any(m.startswith("flowtui.screens") for m in modules)


def test_a_valid_file_never_imports_jsonschema(tmp_path, sketch):
    state = str(tmp_path / "state")
    cold = loaded_modules(tmp_path, "run", sketch, "--no-ui", "--state-dir", state)  # first run: validated
    warm = loaded_modules(tmp_path, "run", sketch, "--no-ui", "--state-dir", state)  # cached
    for modules in (cold, warm):
        assert heavy(modules, HEAVY + ("jsonschema", "referencing", "yaml", "ruamel", "hashlib")) == []


def test_an_invalid_file_is_explained_by_jsonschema(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"one": [{"name": "a", "cmd": "true", "timeout": "soon"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "flowtui", "run", str(bad), "--no-ui", "--state-dir", str(tmp_path / "state")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"{bad}:1:") and "invalid duration 'soon'" in result.stderr


def test_report_writers_stay_light(tmp_path, sketch):
    state = str(tmp_path / "state")
    loaded_modules(tmp_path, "run", sketch, "--no-ui", "--state-dir", state)
    modules = loaded_modules(tmp_path, "run", sketch, "--no-ui", "--state-dir", state, "--report", "r.json",
                             "--junit", "j.xml", "--events", "e.jsonl")
    assert (tmp_path / "r.json").exists() and (tmp_path / "j.xml").exists()
    assert heavy(modules, HEAVY + ("jsonschema",)) == []


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed")
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken." in result.stdout


def test_a_fluxor_file_is_read_by_libyaml_alone(tmp_path):
    """Fluxor's loader composes YAML 1.2 nodes with libyaml (PyYAML's binding): no second YAML
    library, no jsonschema, no OpenSSL. Fluxor keys ignore case."""
    flow = tmp_path / "wf.yaml"
    flow.write_text("Pipeline:\n  hello:\n    action: printer:print\n    input:\n      message: hi\n")
    modules = loaded_modules(tmp_path, "run", str(flow), "--no-ui", "--state-dir", str(tmp_path / "state"))
    assert "flowtui.engine.loaders.fluxor" in modules
    assert "yaml._yaml" in modules
    assert heavy(modules, HEAVY + ("ruamel", "jsonschema", "hashlib")) == []


def test_sha256_without_openssl_matches_hashlib(tmp_path):
    import hashlib

    from flowtui.engine.sha import file_sha256, sha256_hex

    path = tmp_path / "f"
    path.write_bytes(b"flowtui\n" * 1000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_hex(path.read_bytes())

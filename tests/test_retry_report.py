"""A task retried reports its last attempt (CONTRACT.md): its start, end and duration are that
attempt's, not the first attempt's start and the wait between them."""

import json
import os
import subprocess
from datetime import datetime

LIMIT = 30


def test_a_retried_task_reports_the_start_of_its_last_attempt(flowtui_cmd, tmp_path):
    (tmp_path / "flaky.yaml").write_text(f"""pipeline:
  flaky:
    action: system/exec:execute
    retry:
      limit: 1
      delay: 0.2
    input:
      workdir: {tmp_path}
      failOnError: true
      commands: ["test -e marker || {{ touch marker; exit 3; }}"]
""")
    env = dict(os.environ, FLOWTUI_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run([*flowtui_cmd, "run", "flaky.yaml", "--no-ui", "--report", "r.json", "--events", "e.jsonl"],
                            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT)
    assert result.returncode == 0, result.stderr
    task = json.loads((tmp_path / "r.json").read_text())["tasks"][0]
    starts = [e["ts"] for e in map(json.loads, (tmp_path / "e.jsonl").read_text().splitlines())
              if e["type"] == "task_started"]
    assert task["attempts"] == 2 and len(starts) == 2
    started = datetime.fromisoformat(task["started_at"]).timestamp()
    finished = datetime.fromisoformat(task["finished_at"]).timestamp()
    assert started > (starts[0] + starts[1]) / 2  # 0.2 s apart: the second attempt's start, not the first's
    assert abs(finished - started - task["duration_s"]) < 0.002  # its duration is from that start

"""External cluster profiles: strict loading, secrets from the environment (never in results),
and drills through shell hooks against a real 3-broker cluster."""

from __future__ import annotations

import json
import re
import sys

import pyarrow.parquet as pq
import pytest

from replaybench.clusters import profile
from replaybench.engine import runner

from tests.engine_helpers import SHORT, WORKLOADS


def _profile(tmp_path, text: str):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("version: 1\nname: x\nbootstrap: h:1\nlabls: {}\n", "labls: unknown field (did you mean 'labels'?)"),
    ("version: 1\nname: x\n", "bootstrap: expected a non-empty string, got None"),
    ("version: 1\nname: x\nbootstrap: h:1\nhooks: {explode: x}\n", "hooks.explode: unknown hook"),
    ("version: 1\nname: x\nbootstrap: h:1\nclient_config: {sasl.password: '${RB_NO_SUCH_VAR}'}\n",
     "client_config.sasl.password: environment variable RB_NO_SUCH_VAR is not set"),
    ("version: 1\nname: x\nbootstrap: h:1\nname: y\n", "duplicate key 'name'"),
])
def test_profile_mistakes_are_one_line(tmp_path, text, message):
    with pytest.raises(profile.ProfileError, match=re.escape(message)):
        profile.load(_profile(tmp_path, text))


@pytest.mark.slow(50)
def test_drills_run_through_hooks_and_secrets_stay_out_of_results(kafka3, cache_dir, tmp_path,
                                                                  ray_local, monkeypatch):
    monkeypatch.setenv("RB_TEST_SECRET", "s3cr3t")
    drill = (f"{sys.executable} -m replaybench cluster drill {{action}} --broker {{{{broker}}}} "
             f"--dir {kafka3.root}")
    hooks = {a: drill.format(action=a) for a in ("pause", "resume", "kill", "restart")}
    path = _profile(tmp_path, "version: 1\nname: local-three\nbootstrap: " + kafka3.bootstrap +
                    "\nclient_config: {sasl.password: '${RB_TEST_SECRET}', client.id: rb-test}\n"
                    "labels: {storage: local-disk, vendor: apache}\nhooks: " + json.dumps(hooks) + "\n")
    # sasl.password is not used without SASL, but librdkafka accepts it: a secret to keep out.
    request = runner.RunRequest(
        WORKLOADS / "restore-storm.yaml", cache_dir,
        (*SHORT, "topic.replication=3", "faults=[{action: pause, broker: 3, at_s: 0, duration_s: 2}]"),
        "smoke", results_dir=tmp_path / "results", profile=path, reference=False)
    out = runner.run(request)
    assert out.status == "completed", out.reason
    info = json.loads((out.run_dir / "manifest.json").read_text())
    assert info["cluster"]["labels"] == {"storage": "local-disk", "vendor": "apache"}
    assert "s3cr3t" not in (out.run_dir / "manifest.json").read_text()
    assert info["client_configs"]["base"]["sasl.password"] == "<redacted>"
    [row] = pq.read_table(out.run_dir / "faults.parquet").to_pylist()
    assert row["action"] == "pause" and row["error"] == ""
    assert 2e9 <= row["duration_ns"] < 20e9
    assert row["produce_p99_9_ns"] > 0
    assert kafka3.running() == [1, 2, 3]


def test_hooks_keep_shell_braces_and_fill_in_the_broker(tmp_path, monkeypatch):
    monkeypatch.setenv("RB_HOOK_WORD", "paused")
    out = tmp_path / "hook.txt"
    path = _profile(tmp_path, "version: 1\nname: x\nbootstrap: h:1\nhooks:\n"
                    f"  pause: echo \"${{RB_HOOK_WORD}} {{broker}}\" | awk '{{print $2, $1}}' > {out}\n")
    profile.HookCluster(profile.load(path)).pause(3)
    assert out.read_text().strip() == "3 paused"

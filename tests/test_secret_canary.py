"""A secret planted in a client-config file, a cluster profile (literal and from the environment)
and a `--set` appears nowhere a run leaves behind: not under the results directory (raw bytes
and every Parquet value), not on the console, not in the broker's logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.cluster

SHORT = ["--set", "phases.warmup_s=1", "--set", "phases.warmup_max_s=1",
         "--set", "phases.baseline_s=1", "--set", "phases.recovery_s=1",
         "--set", "seed.records=20000", "--set", "seed.keys=2000"]
# Unused by a PLAINTEXT cluster, but accepted by librdkafka: secrets the run must carry and hide.
CANARIES = {"client-config": "rbCanaryClientFile7f3a", "set": "rbCanarySetValue4d2b",
            "profile": "rbCanaryProfileLit91c", "environment": "rbCanaryFromEnv5e8d"}


RUN_LIMIT_S = 300


def _run(*args: str) -> str:
    env = {**os.environ, "RB_CANARY": CANARIES["environment"]}
    done = subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload",
                           "restore-storm", "--scale", "smoke", *SHORT, *args],
                          capture_output=True, text=True, env=env, timeout=RUN_LIMIT_S)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


def _everything_under(root: Path, skip: tuple[Path, ...] = ()) -> str:
    """Every file's bytes, and every Parquet table's values decoded (compression hides text)."""
    parts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(path.is_relative_to(s) for s in skip):
            continue
        parts.append(path.read_bytes().decode("latin-1"))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            parts.append(repr(table.to_pylist()) + repr(table.schema.metadata))
    return "\n".join(parts)


@pytest.mark.slow(85)
@pytest.mark.timeout(2 * RUN_LIMIT_S + 60)   # two runs, then room for the subprocess's limit
def test_a_planted_secret_appears_nowhere_a_run_leaves(kafka1, tmp_path):
    results = tmp_path / "results"
    client_file = tmp_path / "client.properties"
    client_file.write_text(f"sasl.password={CANARIES['client-config']}\nclient.id=rb-canary\n")
    profile = tmp_path / "canary.yaml"
    profile.write_text(f"version: 1\nname: canary\nbootstrap: {kafka1.bootstrap}\n"
                       f"client_config: {{sasl.password: {CANARIES['profile']}, "
                       f"sasl.oauthbearer.client.secret: '${{RB_CANARY}}'}}\n")
    console = _run("--bootstrap", kafka1.bootstrap, "--client-config", str(client_file),
                   "--set", f"live.producer_config.sasl.password={CANARIES['set']}",
                   "--set", f"storm.consumer_config.ssl.key.password={CANARIES['set']}",
                   "--results", str(results))
    console += _run("--cluster-profile", str(profile), "--results", str(results))
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 2
    haystacks = {"console": console, "results": _everything_under(results),
                 # the broker's logs and console output, its configs and cluster.json; its data
                 # dirs hold only records, and the whole session's of them
                 "cluster files": _everything_under(
                     kafka1.root, tuple(n.data_dir for n in kafka1.nodes))}
    assert "<redacted>" in haystacks["results"]   # the secrets were there to hide
    found = [(name, where) for name, canary in CANARIES.items()
             for where, text in haystacks.items() if canary in text]
    assert found == []

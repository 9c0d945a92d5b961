"""What TLS (and SASL_SSL with least-privilege ACLs) costs a restore: `replaybench run` of the
same workload on a plaintext, a TLS and a SASL_SSL embedded cluster, the modes alternating
round by round (the order rotates each round). Prints each mode's restore MB/s (median) and its
ratio to plaintext, with each run's restore verdict (a client- or host-bound figure is the
load machine's, not the cluster's).

    python peer_benchmarks/tls_cost.py               # ~8 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from peer import alternate

MODES = {"plaintext": (), "tls": ("--security", "tls"), "sasl_ssl": ("--security", "sasl_ssl")}


def main() -> int:
    args = _args()
    verdicts: dict[str, list[str]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="rb-tls-cost-") as tmp:
        seen = alternate(args.rounds, {
            mode: (lambda m=mode, extra=extra: _restore(Path(tmp) / m, extra, args, verdicts[m]))
            for mode, extra in MODES.items()})
    base = statistics.median(seen["plaintext"])
    print(f"{'mode':<10} {'restore MB/s (median)':>22} {'ratio':>7}  runs (MB/s, verdict)")
    for mode, values in seen.items():
        med = statistics.median(values)
        runs = ", ".join(f"{v:.1f} {d}" for v, d in zip(values, verdicts[mode]))
        print(f"{mode:<10} {med:>22.1f} {med / base:>7.2f}  {runs}")
    return 0


def _restore(results: Path, extra: tuple[str, ...], args, verdicts: list[str]) -> float:
    done = subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload",
                           "restore-storm", "--no-reference", "--results", str(results),
                           "--set", f"seed.records={args.records}",
                           "--set", f"seed.keys={args.records // 6}", *extra],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"run failed ({' '.join(extra) or 'plaintext'}): {done.stderr[-500:]}")
    newest = max(results.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    group = json.loads(newest.read_text())["summary"]["groups"][0]
    verdicts.append(group.get("verdict") or "?")
    return group["mb_per_s"]


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--records", type=int, default=1_000_000, help="changelog records (200 B)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())

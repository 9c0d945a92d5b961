"""Did the restore hurt live latency? A verdict on every storm / reference comparison, never a
bare ratio: `interference`, `no interference`, or `inconclusive` with the reason.

The storm is judged against live traffic before it (baseline) and after it (recovery). For each
role (producer ack - intended, consumer end-to-end) and percentile (p99, p99.9), in this order:

1. Too few samples: a pX needs 10 / (1 - X) samples in both phases (p99: 1,000; p99.9: 10,000),
   or its value is one of a handful of records.
2. Generator-bound: the load generator's own lateness (producer sent - intended) or the role's
   process hiccups reach generator_share of the latency judged, in either phase: the figure is
   then the harness's, not the cluster's.
3. The reference's noise band: storm-length stretches of the reference, drawn as a moving-block
   bootstrap over its 1 s ticks, give the pX the reference alone produces for a phase as long as
   the storm (null band: 2.5 % .. 97.5 %).
   - storm pX above margin x the band's top: interference;
   - storm pX below the band's bottom / margin: inconclusive, the reference was disturbed (a
     restore does not make a cluster faster);
   - the band itself wider than spread_max (top / bottom): inconclusive, the reference unstable;
   - otherwise: no interference.
The ratio storm / reference comes with a 95 % interval from a block bootstrap of both phases.
The overall verdict per role and percentile needs the usable references to agree: a reference
with too few samples, or one in which the generator was late, is left out (a late generator in
the storm leaves every comparison inconclusive).

Thresholds (measured on this project's 2-core machine, see README "Verdicts"): quiet runs give
sent - intended at 5-30 % of the ack p99 (and up to ~50 % of a p99.9 near 20 ms, which is then
rightly called generator-bound); a stopped generator 95-100 %. A 1 s broker stop puts the storm
p99 10x above the reference's band; quiet storms of a few seconds land inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replaybench.format.histograms import LatencyHistogram, bucket_highest_values, target_count

BOOTSTRAP_ROUNDS = 400
CONFIDENCE = 0.95
STATS = {"p99": 99.0, "p99.9": 99.9}
ROLES = {"producer": "ack_intended", "consumer": "e2e"}
REFERENCES = ("baseline", "recovery")

TOO_FEW, GENERATOR_BOUND = "too few samples", "generator-bound"   # reasons' first words
Ticks = list[tuple[np.ndarray, np.ndarray]]   # per 1 s tick: (bucket indices, counts)


@dataclass(frozen=True)
class Limits:
    """Where the judge draws its lines (a team may set its own: `rejudge --thresholds`)."""
    min_samples_factor: float = 10    #: a pX needs min_samples_factor / (1 - X) samples
    generator_share: float = 0.5      #: generator lateness or hiccups >= this share of the pX
    margin: float = 1.25              #: a storm pX beyond the reference's band by this factor
    spread_max: float = 3.0           #: a reference whose band spans more is unstable


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Comparison:
    role: str
    stat: str
    reference: str              #: baseline, recovery, or overall (the verdict shown)
    reference_ns: int
    storm_ns: int
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str                #: interference, no interference, inconclusive
    reason: str


@dataclass(frozen=True)
class PhaseLatency:
    """What one phase of one role offers the judge."""
    hist: LatencyHistogram       #: the judged latency over the phase
    ticks: Ticks                 #: the same, per 1 s tick
    generator: LatencyHistogram  #: producer sent - intended over the phase
    hiccups: LatencyHistogram    #: the role's process hiccups over the phase


def judge_role(role: str, phases: dict[str, PhaseLatency], seed: int = 0,
               limits: Limits = DEFAULT_LIMITS) -> list[Comparison]:
    """Every comparison for one role: per stat, one row per reference and an overall row."""
    storm = phases.get("storm")
    if storm is None or not storm.hist.count:
        return []
    rng = np.random.default_rng(seed)
    rows = []
    for stat, q in STATS.items():
        per_ref = [_compare(role, stat, q, name, phases[name], storm, rng, limits)
                   for name in REFERENCES if name in phases and phases[name].hist.count]
        rows.extend(per_ref)
        if per_ref:
            rows.append(_overall(per_ref))
    return rows


def _compare(role: str, stat: str, q: float, name: str, ref: PhaseLatency, storm: PhaseLatency,
             rng: np.random.Generator, limits: Limits) -> Comparison:
    ref_ns, storm_ns = ref.hist.percentile(q), storm.hist.percentile(q)
    ratio = storm_ns / ref_ns if ref_ns else None
    low, high = ratio_interval(ref.ticks, storm.ticks, q, rng) if ratio else (None, None)
    if low is not None:
        # A tail percentile that rests on a few ticks is biased low under resampling (most
        # draws miss some of them), so the percentile interval can end below the measured
        # ratio; it is widened to hold it rather than printed beside a figure it excludes.
        low, high = min(low, ratio), max(high, ratio)

    def verdict(v: str, reason: str) -> Comparison:
        return Comparison(role, stat, name, ref_ns, storm_ns, ratio, low, high, v, reason)

    need = round(limits.min_samples_factor / (1 - q / 100))
    for phase_name, phase in ((name, ref), ("storm", storm)):
        if phase.hist.count < need:
            return verdict("inconclusive", f"{TOO_FEW}: {phase.hist.count:,} in "
                                           f"{phase_name}, a {stat} needs {need:,.0f}")
    for phase_name, phase in (("storm", storm), (name, ref)):
        judged = phase.hist.percentile(q)
        for what, hist in (("sent - intended", phase.generator), ("hiccups", phase.hiccups)):
            own = hist.percentile(q) if hist.count else 0
            if judged and own >= limits.generator_share * judged:
                return verdict("inconclusive", f"{GENERATOR_BOUND}: {what} {stat} {own / 1e6:.1f} ms "
                                               f"against {judged / 1e6:.1f} ms in {phase_name}")
    band_low, band_high = null_band(ref.ticks, len(storm.ticks), q, rng)
    band = f"{name} band {band_low / 1e6:.1f}-{band_high / 1e6:.1f} ms"
    if storm_ns > limits.margin * band_high:
        return verdict("interference", f"storm {stat} {storm_ns / 1e6:.1f} ms above the {band}")
    if storm_ns * limits.margin < band_low:
        return verdict("inconclusive", f"{name} disturbed: storm {stat} {storm_ns / 1e6:.1f} ms "
                                       f"below the {band}")
    if band_low and band_high / band_low > limits.spread_max:
        return verdict("inconclusive", f"{name} unstable: {band} (over {limits.spread_max:g}x)")
    return verdict("no interference", f"storm {stat} {storm_ns / 1e6:.1f} ms within the {band}")


def _overall(rows: list[Comparison]) -> Comparison:
    """The usable references must agree; the first (baseline) gives the figures. A reference
    with too few samples, or in which the generator itself was late, cannot serve as one (a
    late generator in the storm, though, makes every comparison inconclusive)."""
    usable = [r for r in rows if not _unusable_reference(r)] or rows
    first = usable[0]
    verdicts = {r.verdict for r in usable}
    if len(verdicts) == 1:
        verdict, reason = first.verdict, "; ".join(f"{r.reference}: {r.reason}" for r in usable)
    elif "inconclusive" in verdicts:
        bad = next(r for r in usable if r.verdict == "inconclusive")
        verdict, reason = "inconclusive", f"{bad.reference}: {bad.reason}"
    else:
        verdict, reason = "inconclusive", "baseline and recovery disagree: " + "; ".join(
            f"{r.reference} {r.verdict}" for r in usable)
    return Comparison(first.role, first.stat, "overall", first.reference_ns, first.storm_ns,
                      first.ratio, first.ci_low, first.ci_high, verdict, reason)


def _unusable_reference(row: Comparison) -> bool:
    return row.reason.startswith(TOO_FEW) or (row.reason.startswith(GENERATOR_BOUND)
                                              and not row.reason.endswith("in storm"))


def null_band(ticks: Ticks, length: int, q: float, rng: np.random.Generator) -> tuple[int, int]:
    """2.5 % and 97.5 % of the pX that `length`-tick stretches of these ticks give."""
    values = _bootstrap(ticks, max(length, 1), q, rng)
    tail = (1 - CONFIDENCE) / 2 * 100
    return int(np.percentile(values, tail)), int(np.percentile(values, 100 - tail))


def ratio_interval(ref: Ticks, storm: Ticks, q: float,
                   rng: np.random.Generator) -> tuple[float | None, float | None]:
    """95 % interval of storm pX / reference pX, both phases block-bootstrapped."""
    if not ref or not storm:
        return None, None
    top = _bootstrap(storm, len(storm), q, rng)
    bottom = _bootstrap(ref, len(ref), q, rng)
    ratios = top / np.maximum(bottom, 1)
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))


def _bootstrap(ticks: Ticks, length: int, q: float, rng: np.random.Generator) -> np.ndarray:
    """pX of BOOTSTRAP_ROUNDS pseudo-phases of `length` ticks, each drawn as moving blocks of
    consecutive ticks (block ~ n^(1/3), the usual choice) so that bursts stay together."""
    ticks = [t for t in ticks if t[1].sum()] or ticks
    n = len(ticks)
    if n == 0:
        return np.zeros(1)
    buckets = np.unique(np.concatenate([idx for idx, _ in ticks]))
    dense = np.zeros((n, len(buckets)))
    for row, (idx, counts) in enumerate(ticks):
        dense[row, np.searchsorted(buckets, idx)] = counts
    block = max(1, min(n, round(n ** (1 / 3))))
    starts = rng.integers(0, n - block + 1, (BOOTSTRAP_ROUNDS, -(-length // block)))
    picks = (starts[:, :, None] + np.arange(block)).reshape(BOOTSTRAP_ROUNDS, -1)[:, :length]
    weights = np.zeros((BOOTSTRAP_ROUNDS, n))
    np.add.at(weights, (np.arange(BOOTSTRAP_ROUNDS)[:, None], picks), 1)
    cumulative = np.cumsum(weights @ dense, axis=1)
    targets = target_count(cumulative[:, -1], q)
    at = np.argmax(cumulative >= targets[:, None], axis=1)
    return bucket_highest_values(buckets[at]).astype(np.float64)

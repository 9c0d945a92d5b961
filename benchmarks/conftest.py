"""Benchmarks reuse the test fixtures (real clusters) and print ratios side by side."""

from tests.conftest import *  # noqa: F401,F403 - fixtures and the leftover-server check

RESULTS: dict[str, float] = {}  # benchmark name -> median seconds per item


def pytest_terminal_summary(terminalreporter):
    r = RESULTS
    if not r:
        return
    line = terminalreporter.write_line
    line("")
    line("replaybench core benchmarks (medians; targets from issue 3)")
    if "fold_buffer" in r:
        line(f"  decode+verify+fold, contiguous 100 B records, 1M keys: "
             f"{1 / r['fold_buffer'] / 1e6:.1f} M records/s (target >= 20)")
    if "fold_buffer" in r and "fold_buffer_fallback" in r:
        line(f"  Cython vs fallback: {r['fold_buffer_fallback'] / r['fold_buffer']:.0f}x (target >= 10x)")
    if "consume_plain" in r and "consume_fold" in r:
        extra = r["consume_fold"] / r["consume_plain"] - 1
        line(f"  real batches: plain consume() {r['consume_plain'] * 1e9:.0f} ns/msg, with fold "
             f"{r['consume_fold'] * 1e9:.0f} ns/msg: core adds {extra:+.1%} (target <= +25%)")
    if "fold_real" in r and "consume_plain" in r:
        line(f"  fold alone over real Message batches in memory: {r['fold_real'] * 1e9:.0f} ns/msg "
             f"= {r['fold_real'] / r['consume_plain']:.1%} of a plain consume() per message")
    if "meters_share" in r:
        line(f"  hiccup meter + CPU accounting: {r['meters_share']:+.4f} of a core per actor "
             f"(a 2,000/s producer uses {r['meters_producer_cpu']:.3f}; target <= 0.01)")
    if "meter_alone" in r:
        line(f"  hiccup meter alone in an idle process: {r['meter_alone']:.4f} of a core")
    if "host_sample" in r:
        line(f"  host + broker CPU sample per tick: {r['host_sample'] * 1e3:.2f} ms")
    if "hdr_record" in r:
        line(f"  HDR recording from a numpy array: {r['hdr_record'] * 1e9:.2f} ns/value "
             f"(target <= 10)" + (f"; hdrh record_value loop: {r['hdr_record_hdrh'] * 1e9:.0f} ns/value"
                                   if "hdr_record_hdrh" in r else ""))

"""Wall-clock nanoseconds that never step backwards within a process.

Intended send times travel inside records and are compared in other processes (the tail
consumer), so they are wall-clock; anchoring to the monotonic clock keeps an NTP step during a
run from producing negative or inflated latencies inside one process.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self._wall0 = time.time_ns()
        self._mono0 = time.monotonic_ns()

    def __call__(self) -> int:
        return self._wall0 + time.monotonic_ns() - self._mono0

    def sleep_until(self, t_ns: int) -> None:
        remaining = t_ns - self()
        if remaining > 0:
            time.sleep(remaining / 1e9)

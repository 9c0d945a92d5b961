"""One mirror flow of a migration run: the MirrorMaker process, and how far its copy is behind
as the harness sees it, sampled once a second on a thread of its own (so that no question to a
cluster ever delays a tick of the applications), with MirrorMaker's own figures beside it.

Each sample goes into the time series (role `mirror`): `caught_up` is whether each copy ends
with its original's last record in every partition (an empty original counts as copied);
lag_records is 0 then, else the originals' end offsets minus the copies', summed over every
mirrored topic. (Offsets overstate it on a transactional topic: its markers, and its aborted
records when the mirror reads committed ones only, take offsets the copy never has; a copy
caught up on such a topic stayed 31 offsets "behind" for good.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from replaybench.clusters.mirror_maker import MirrorMaker
from replaybench.clusters.prometheus_server import PrometheusServer
from replaybench.engine.group_offsets import NotYet, OffsetReader
from replaybench.meters.clock import Clock

#: timeseries column <- MirrorMaker figure (the worst partition's, ms)
FIGURE_COLUMNS = {"mirror_replication_latency_ms": "replication-latency-ms",
                  "mirror_record_age_ms": "record-age-ms",
                  "mirror_checkpoint_latency_ms": "checkpoint-latency-ms"}
SAMPLE_S = 1.0


@dataclass(frozen=True)
class Sample:
    t_ns: int
    lag_records: int
    caught_up: bool
    figures: dict[str, int | None] = field(default_factory=dict)   #: timeseries columns


class MirrorFlow:
    def __init__(self, name: str, maker: MirrorMaker, configs: tuple[dict, dict],
                 topics: list[tuple[str, str, int]],
                 scraper: PrometheusServer | None = None) -> None:
        """configs: the client configs of the cluster it copies from and of the one it copies
        to; topics: (topic, its copy's name, partitions) of every topic it mirrors; scraper:
        the run's Prometheus (--monitor), which scrapes the mirror while the flow runs (the
        maker then serves Prometheus its metrics)."""
        self.name, self.maker, self.configs, self.topics = name, maker, configs, topics
        self.scraper = scraper
        self._scraped = False   #: told to the scraper (once its metrics first answered)
        self._scrape_lock = threading.Lock()
        self.clock = Clock()
        self.latest: Sample | None = None
        self.samples: list[Sample] = []   #: taken since start, for the time series
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None
        self.stopped = False   #: by the schedule (not a death)

    def start(self) -> None:
        self.maker.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self._sample_loop, daemon=True,
                                            name=f"mirror-{self.name}")
            self._thread.start()

    def stop(self) -> None:
        """Stop MirrorMaker (by pid), then the sampler. Its scrape goes first: stopped by
        the schedule, it is not down (a mirror killed by a fault stays scraped, and is)."""
        with self._scrape_lock:
            self.stopped = True
            if self._scraped:
                self.scraper.unscrape(self.maker.name)
        self.maker.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def running(self) -> bool:
        return self.maker.alive()

    def lag(self) -> int:
        return self.latest.lag_records if self.latest else -1

    def caught_up_after(self, t_ns: int, behind: int = 0) -> bool:
        """Whether a sample taken after t_ns found the copy complete (behind 0), or at most
        `behind` records short (a copy of a topic still written to is never complete). A
        mirror that died ends the run, with its last log lines."""
        self.maker.raise_if_died()
        if self._error is not None:
            raise self._error
        latest = self.latest
        if latest is None or latest.t_ns <= t_ns:
            return False
        return latest.caught_up if behind == 0 else 0 <= latest.lag_records <= behind

    def placed(self) -> dict[tuple[str, int], int] | None:
        """Where it began to read every partition it mirrors, (topic, partition) -> offset,
        once its consumer has said so for all of them (None: not yet). For a mirror starting
        at the ends (auto.offset.reset: latest), whose first positions nothing records."""
        found = self.maker.start_positions()
        wanted = [(topic, p) for topic, _, n in self.topics for p in range(n)]
        return {w: found[w] for w in wanted} if all(w in found for w in wanted) else None

    def take_samples(self) -> list[Sample]:
        out, self.samples = self.samples, []
        return out

    def _sample_loop(self) -> None:
        here, there = OffsetReader(self.configs[0]), OffsetReader(self.configs[1])
        try:
            while not self._stop.wait(SAMPLE_S):
                if self.maker.alive():
                    self._announce()
                    try:
                        self.latest = self._sample(here, there)
                    except NotYet:
                        continue   # no sample this second
                    self.samples.append(self.latest)
        except Exception as exc:  # noqa: BLE001 - a cluster that stopped answering
            self._error = exc
        finally:
            here.close()
            there.close()

    def _announce(self) -> None:
        """Scraped from when its metrics first answer, as a service registry adds a server
        once it is ready: a JVM still starting (10 s and more on a loaded machine) is not a
        mirror down. Once told, it stays scraped until the schedule stops it."""
        with self._scrape_lock:
            if self.scraper is not None and not self._scraped and not self.stopped \
                    and self.maker.exporter_answers():
                self.scraper.scrape(self.maker.name, self.maker.exporter_address)
                self._scraped = True

    def _sample(self, here: OffsetReader, there: OffsetReader) -> Sample:
        lag, complete = 0, True
        for topic, copy, partitions in self.topics:
            ends, copied = here.ends(topic, partitions), there.ends(copy, partitions)
            lag += sum(max(ends[p] - copied[p], 0) for p in ends)
            last = here.last_records(topic, partitions)
            complete = complete and last == there.last_records(copy, partitions)
        figures = self.maker.figures()
        return Sample(self.clock(), 0 if complete else lag, complete,
                      {column: int(max(figures[f].values())) if figures.get(f) else None
                       for column, f in FIGURE_COLUMNS.items()})

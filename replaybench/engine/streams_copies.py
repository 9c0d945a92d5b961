"""What a Kafka Streams application finds where a move takes it (streams_move_schedule.py):
its input's and (mirrored) its changelog's copies read and judged against their originals by
content, its group's synced offsets against the records its committed offsets point to
(verdicts/mirror_content.py), and how the local state it kept lines up with the changelog's
copy."""

from __future__ import annotations

from bisect import bisect_left

from replaybench.engine import topic_scan
from replaybench.engine.migration_schedule import Side
from replaybench.engine.streams_move import StreamsApplication
from replaybench.verdicts import mirror_content

Partitions = mirror_content.Partitions


class MovedCopies:
    def __init__(self, app: StreamsApplication, partitions: int, mirrored: bool) -> None:
        """mirrored: its changelog and its group's offsets were mirrored with its input."""
        self.app, self.partitions, self.mirrored = app, partitions, mirrored
        #: the changelog and its copy as read at the cutover (partition -> offsets, hashes)
        self.changelog: tuple[Partitions, Partitions] | None = None

    def judge(self, step: str, leaving: Side, to: Side, keep_changelog: bool) -> list[dict]:
        """mirror_content rows for one move: each copy against its original (a move back: the
        source's topics, the target's records copied onto their ends, against the target's);
        keep_changelog: the changelog's pair kept for kept_state()."""
        app, parts = self.app, self.partitions
        rows: list[dict] = []
        for topic in [app.topic] + ([app.changelog] if self.mirrored else []):
            original = topic_scan.scan_hashes(leaving.config, topic, parts)
            aborted = topic_scan.aborted_hashes(leaving.config, topic, parts, original)
            copy = topic_scan.scan_hashes(to.config, topic, parts)
            rows += mirror_content.judge_topic(topic, original, copy, aborted)
            if topic == app.changelog and keep_changelog:
                self.changelog = (original, copy)
            if topic == app.topic and self.mirrored:   # rebuilt: nothing synced
                rows += mirror_content.judge_group(
                    app.application_id, topic,
                    leaving.offsets.committed(app.application_id, topic, parts),
                    to.offsets.committed(app.application_id, topic, parts), original, copy)
        return [{**row, "step": step} for row in rows]

    def kept_state(self, held: dict[str, dict[int, int]]) -> dict[str, int]:
        """The local state the instances kept (held: instance -> store partition -> offset;
        migration.streams.local_state: keep), as Kafka Streams resumed it on the target: in
        how many partitions, in how many the offset it held does not mark the same place in
        the copy (the records below it there are not the source's records below it:
        transaction markers are not copied, or the mirror started after compaction), and in
        how many it points past the copy's end."""
        resumed = [(p, offset) for offsets in held.values() for p, offset in offsets.items()]
        out = {"partitions": len(resumed), "not_matching_copy": 0, "beyond_copy_end": 0}
        if self.changelog is None:
            return out
        original, copy = self.changelog
        for p, offset in resumed:
            copy_offsets = copy.get(p, ([], []))[0]
            out["not_matching_copy"] += _before(original.get(p, ([], [])), offset) != \
                _before(copy.get(p, ([], [])), offset)
            out["beyond_copy_end"] += offset > (copy_offsets[-1] + 1 if copy_offsets else 0)
        return out


def _before(partition: tuple[list[int], list[bytes]], offset: int) -> list[bytes]:
    """The hashes of a partition's records below an offset."""
    offsets, hashes = partition
    return hashes[:bisect_left(offsets, offset)]

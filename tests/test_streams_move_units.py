"""The parts of a Kafka Streams application's move that need no cluster: what the workload
accepts, how the verdict words its counts, and how the state an instance kept is judged
against the copy it finds on the target."""

from __future__ import annotations

import types

import pytest

from replaybench.engine import workload
from replaybench.engine.streams_copies import MovedCopies
from replaybench.engine.streams_move import _resumed_from
from replaybench.engine.streams_move_schedule import StreamsMoveSchedule
from replaybench.verdicts import migration

STREAMS = "version: 1\nname: m\nlive:\n  consumers: 0\nmigration:\n  application: kafka-streams\n"


@pytest.mark.parametrize(("extra", "says"), [
    ("  cutover:\n    procedure: consumers-first\n", "drain-then-switch"),
    ("  mirror:\n    policy: prefixed\n", "identity"),
    ("  existing_topics: [orders]\n", "a team's own topics"),
])
def test_a_streams_move_refuses_what_it_cannot_do_in_one_line(tmp_path, extra, says):
    path = tmp_path / "m.yaml"
    path.write_text(STREAMS + extra)
    with pytest.raises(workload.WorkloadError, match=says):
        workload.load(path)


def test_a_streams_move_has_no_consumer_group_of_its_own(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STREAMS.replace("consumers: 0", "consumers: 2"))
    with pytest.raises(workload.WorkloadError, match="the application is the consumer"):
        workload.load(path)
    spec = workload.load(workload.path_for("streams-migration"))
    assert spec.migration.application == "kafka-streams"
    assert spec.migration.phase_names() == ["seed", "catch-up", "mirrored", "cutover-drain",
                                            "cutover-checkpoints", "cutover-restore", "trial",
                                            "drain"]


@pytest.mark.parametrize("rollback", [False, True])
def test_the_phases_a_fault_may_follow_are_the_phases_a_streams_move_enters(rollback):
    from replaybench.engine.phases import Phase
    spec = workload.load(workload.path_for("streams-migration"),
                         [f"migration.rollback={str(rollback).lower()}"])
    state = types.SimpleNamespace(spec=spec, on_tick=[],
                                  faults=types.SimpleNamespace(faults=[]))
    traffic = types.SimpleNamespace(start=None, stop_producers=None)
    schedule = StreamsMoveSchedule(state, traffic, None, None, None, None,
                                   object() if rollback else None)
    names = [s.name for s in schedule.steps(lambda: None) if isinstance(s, Phase)][:-1]
    assert names == spec.migration.phase_names()
    if rollback:   # the mirror back in place before the application writes on the target
        assert names.index("cutover-reverse") == names.index("cutover-restore") - 1
        assert names[-4:] == ["rollback-checkpoints", "rollback-restore", "back", "drain"]


def test_the_verdict_counts_updates_for_an_application_and_records_for_a_group():
    assert migration.verdict_of(0, 3, 400, "updates") == \
        "GO: nothing lost, 3 applied twice (bound 400)"
    assert migration.verdict_of(2, 0, 400, "updates") == \
        "NO-GO: 2 acknowledged updates missing from the state"
    assert migration.verdict_of(0, 500, 400) == \
        "NO-GO: 500 records delivered twice, more than the procedure's 400"


def test_where_kept_state_resumed_is_its_first_restore_after_the_move():
    events = [{"e": "restore_start", "t": 5, "partition": 0, "start": 700},   # before it
              {"e": "restore_start", "t": 20, "partition": 0, "start": 1086},
              {"e": "restore_start", "t": 21, "partition": 0, "start": 0},   # wiped, again
              {"e": "restore_start", "t": 22, "partition": 1, "start": 0},   # nothing held
              {"e": "state", "t": 23, "new": "RUNNING"}]
    assert _resumed_from(events, 10) == {0: 1086}


def _copies(original: dict, copy: dict) -> MovedCopies:
    """The changelog and its copy as the cutover read them."""
    copies = MovedCopies(None, 3, mirrored=True)
    copies.changelog = (original, copy)
    return copies


def test_kept_state_past_the_copys_end_or_elsewhere_in_it_is_counted():
    """Exactly-once on the source: each commit left a marker the mirror did not copy, so the
    offsets the kept state holds run past the copy's end (and inside it, mark other records)."""
    original = {0: ([0, 2, 4], [b"a", b"b", b"c"]), 1: ([0, 1, 2], [b"d", b"e", b"f"]),
                2: ([0, 2], [b"g", b"h"])}
    copy = {0: ([0, 1, 2], [b"a", b"b", b"c"]), 1: ([0, 1, 2], [b"d", b"e", b"f"]),
            2: ([0, 1], [b"g", b"h"])}
    copies = _copies(original, copy)
    kept = copies.kept_state({"streams-0": {0: 5, 1: 3}, "streams-1": {2: 1}})
    # 0: 5 is past the copy's end (3); 1: at least-once, the same place; 2: offset 1 marks
    # one record on the source (g) and one in the copy (g): the same place
    assert kept == {"partitions": 3, "not_matching_copy": 0, "beyond_copy_end": 1}
    # offset 2: one record below it on the source (g), two in the copy (g, h)
    assert copies.kept_state({"streams-0": {2: 2}}) == {"partitions": 1, "not_matching_copy": 1,
                                                       "beyond_copy_end": 0}

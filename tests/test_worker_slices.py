"""The parallel suite's order (worker_slices.py): each worker's first slice holds its share of
the long tests, and tests sharing a module fixture stay in one slice."""

from tests.worker_slices import dealt, slice_sizes


def test_long_tests_are_shared_out_and_a_fixtures_tests_stay_together():
    seconds = {"a": 100, "b": 90, "c": 80, "d": 70, "m1": 50, "m2": 10, "m3": 0}
    items = ["a", "b", "c", "d", "m1", "m2", *[f"q{i}" for i in range(10)], "m3"]
    order = dealt(items, 3, lambda t: seconds.get(t, 0), lambda t: "m" if t[0] == "m" else t)
    assert sorted(order) == sorted(items)
    slices, pos = [], 0
    for size in slice_sizes(len(items), 3):   # as worksteal hands them out: 5, 6, 6
        slices.append(order[pos:pos + size])
        pos += size
    assert [s[0] for s in slices] == ["a", "b", "c"]   # one long test at the head of each
    [home] = [s for s in slices if "m1" in s]
    assert {"m1", "m2", "m3"} <= set(home)
    assert [q for s in slices for q in s if q.startswith("q")] == [f"q{i}" for i in range(10)]

"""Cutting the object store's counters by phase and by fault (a fake counter source; the real
S3 server's counters are checked in test_s3_server.py and through a Tansu run in
test_run_cli.py)."""

from replaybench.clusters.broker_processes import BrokerProcesses
from replaybench.clusters.s3_server import ObjectStoreTraffic
from replaybench.engine.object_store_meter import MeteredProcesses, ObjectStoreMeter, annotate
from replaybench.results.run_record import RunRecord


class Counters:
    """Each read returns 100 bytes read more than the last; the clock says 1000 ns per read,
    starting at 0 for the first."""

    def __init__(self) -> None:
        self.reads = 0

    def traffic(self) -> ObjectStoreTraffic:
        self.reads += 1
        return ObjectStoreTraffic(get_requests=self.reads, bytes_read=100 * self.reads)

    def clock(self) -> int:
        return (self.reads - 1) * 1_000


def _meter(samples: int) -> ObjectStoreMeter:
    source = Counters()
    meter = ObjectStoreMeter(source.traffic, source.clock)
    for _ in range(samples):
        meter.sample()   # sample k (1-based) is taken at t = (k-1) * 1000 ns
    return meter


def test_a_window_is_cut_at_the_samples_inside_it():
    meter = _meter(6)                       # samples at 0, 1000, ..., 5000 ns
    assert meter.between(1500, 3500).bytes_read == 100        # 2000 -> 3000
    assert meter.between(2000, 4000).get_requests == 2        # edges included
    assert meter.between(3500, 3600) == ObjectStoreTraffic()  # no sample inside
    assert meter.between(0, 99_000).get_requests == 5


class Broker:
    def __init__(self) -> None:
        self.calls = []

    def replace(self, node_id: int) -> None:
        self.calls.append(("replace", node_id))

    def data_bytes(self, node_id: int) -> int:
        return 7


def test_metered_processes_sample_right_before_and_after_an_action():
    meter, broker = _meter(1), Broker()
    target = MeteredProcesses(BrokerProcesses(broker, [1, 2, 3]), meter)
    target.replace("broker-2")
    assert broker.calls == [("replace", 2)] and len(meter.samples) == 3
    assert target.data_bytes("broker-2") == 7 and len(meter.samples) == 3   # no action: no sample


def test_annotate_cuts_phases_faults_and_time_series():
    meter = _meter(6)
    record = RunRecord("r", started_ns=0, ended_ns=5000)
    record.phase_bounds = {"baseline": [0, 2000], "storm": [2000, 5000]}
    record.groups = [{"bytes": 250}]
    record.faults = [{"started_ns": 2500, "done_ns": 4000}, {"started_ns": 0, "done_ns": 0}]
    info = annotate(record, meter, "fake")
    # intervals ending at 1000 (baseline) and 2000..5000 (storm, which starts at 2000)
    assert info["phases"]["baseline"]["bytes_read"] == 100
    assert info["phases"]["storm"]["bytes_read"] == 400
    assert info["storm_read_per_restored_byte"] == 1.6
    assert record.faults[0]["object_store_bytes_read"] == 100    # inner: 3000 -> 4000
    assert "object_store_bytes_read" not in record.faults[1]     # never triggered
    rows = [r for r in record.timeseries if r["role"] == "object_store"]
    assert [r["phase"] for r in rows] == ["baseline", "storm", "storm", "storm", "storm"]
    assert all(r["s3_bytes_read"] == 100 and r["interval_ns"] == 1000 for r in rows)

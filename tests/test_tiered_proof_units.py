"""The tiered storage proof's arithmetic: which remote segments the restore had to read, and
a run whose S3 server sent less than those fails its proof. (The passing proof, against a
real broker and S3 server: test_run_cli.py's tiered broker replacement.)"""

import json

from replaybench.clusters import tiered_proof
from replaybench.clusters.platform import PROOF_FAILED
from replaybench.clusters.s3_server import ObjectStoreTraffic


class _Pages:
    def __init__(self, keys):
        self.keys = keys

    def paginate(self, Bucket):   # noqa: N803 - boto3's spelling
        return [{"Contents": [{"Key": k, "Size": s} for k, s in self.keys[:2]]},
                {"Contents": [{"Key": k, "Size": s} for k, s in self.keys[2:]]}]


class _Server:
    """An S3 server as the proof sees it: a listing and a byte counter."""

    def __init__(self, keys=(), sent=0):
        self.keys, self.sent = list(keys), sent

    def client(self):
        server = self

        class Client:
            def get_paginator(self, name):
                return _Pages(server.keys)
        return Client()

    def traffic(self):
        return ObjectStoreTraffic(bytes_read=self.sent)


class _Cluster:
    def remote_fetch_counts(self):
        return {1: {"bytes": 900, "requests": 3}}


def _key(topic, partition, start, name="log"):
    # a topic id may hold "-" (URL-safe base64): seen in a default-scale run
    return f"{topic}-AbCdEf-hIjKlMnOpQr_tUv/{partition}/{start:020d}-SeGmEnTiD/{name}"


def test_only_the_changelogs_log_objects_below_the_local_start_count():
    keys = [(_key("rb-x-changelog", 0, 0), 100), (_key("rb-x-changelog", 0, 50), 200),
            (_key("rb-x-changelog", 0, 90), 400),          # the local log starts here
            (_key("rb-x-changelog", 0, 0, "offset"), 7),   # an index, not the log
            (_key("rb-x-changelog", 1, 0), 30), (_key("rb-x-input", 0, 0), 1000)]
    bucket = tiered_proof.RemoteBucket(_Server(keys), "b")
    assert bucket.segment_bytes_below("rb-x-changelog", {0: 90, 1: 0}) == 300


def _events(needed):
    flushed = {"local_log_start_offsets": {"0": 10}, "remote_fetch_before": {},
               "remote_segment_bytes": needed, "object_store_before": {"bytes_read": 500}}
    return [{"kind": "seed_flushed", "detail": json.dumps(flushed)},
            {"kind": "targets", "detail": json.dumps({"offsets": {"0": 20}})}]


def test_a_restore_the_s3_server_served_passes_and_one_it_did_not_fails_the_run():
    served = tiered_proof.storage_proof(_events(1000), _Cluster(),
                                        tiered_proof.RemoteBucket(_Server(sent=1600), "b"))
    assert served["remote_tier"]["object_store"] == {
        "bytes_read": 1100, "remote_segment_bytes": 1000, "read_from_object_store": True}
    assert PROOF_FAILED not in served
    short = tiered_proof.storage_proof(_events(1000), _Cluster(),
                                       tiered_proof.RemoteBucket(_Server(sent=1000), "b"))
    assert not short["remote_tier"]["object_store"]["read_from_object_store"]
    assert short[PROOF_FAILED].startswith("the S3 server sent 500 bytes from the seed's end")
    nothing = tiered_proof.storage_proof(_events(0), _Cluster(),
                                         tiered_proof.RemoteBucket(_Server(sent=900), "b"))
    assert nothing[PROOF_FAILED].startswith("no remote segment lay below the local logs")


def test_a_server_gone_by_the_end_leaves_the_proof_unmade_and_the_run_as_it_was():
    class Gone(_Server):
        def traffic(self):
            raise ConnectionRefusedError("refused")
    proof = tiered_proof.storage_proof(_events(1000), _Cluster(),
                                       tiered_proof.RemoteBucket(Gone(), "b"))
    assert proof["remote_tier"]["object_store"] == {"error": "ConnectionRefusedError: refused"}
    assert PROOF_FAILED not in proof and proof["remote_tier"]["records_only_in_remote_tier"] == 10

"""The local S3 server does what the S3-backed broker needs (ranged GETs, conditional PUTs) and
counts what the broker asks of it."""

import socket
from pathlib import Path

import botocore
import pytest

from replaybench.clusters import s3_server
from replaybench.clusters.processes import find_by_marker


@pytest.mark.cluster   # a real S3 server process
def test_ranged_gets_conditional_puts_and_traffic_counts(tmp_path):
    with s3_server.SeaweedS3Server(tmp_path / "s3").start() as server:
        server.create_bucket("rb-test")
        c = server.client()
        before = server.traffic()
        etag = c.put_object(Bucket="rb-test", Key="k", Body=bytes(range(256)) * 4)["ETag"]
        part = c.get_object(Bucket="rb-test", Key="k", Range="bytes=10-19")
        assert part["Body"].read() == bytes(range(10, 20)) and part["ContentLength"] == 10
        for kwargs in ({"IfNoneMatch": "*"}, {"IfMatch": '"not-the-etag"'}):
            with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
                c.put_object(Bucket="rb-test", Key="k", Body=b"new", **kwargs)
        c.put_object(Bucket="rb-test", Key="k", Body=b"new", IfMatch=etag)
        c.put_object(Bucket="rb-test", Key="fresh", Body=b"x", IfNoneMatch="*")
        assert c.get_object(Bucket="rb-test", Key="k")["Body"].read() == b"new"
        c.list_objects_v2(Bucket="rb-test")
        c.delete_object(Bucket="rb-test", Key="fresh")
        # a remote tier's segment goes in one multi-object DELETE
        c.delete_objects(Bucket="rb-test", Delete={"Objects": [{"Key": "k"}, {"Key": "gone"}]})
        moved = server.traffic().minus(before)
        # Two GETs (10 + 3 bytes back); five PUTs, of which three stored 1024 + 3 + 1 bytes;
        # a listing; two deletions, the second of two keys.
        assert (moved.get_requests, moved.put_requests) == (2, 5)
        assert (moved.bytes_read, moved.bytes_written) == (13, 1028)
        assert (moved.list_requests, moved.delete_requests, moved.other_requests) == (1, 2, 0)
    assert not find_by_marker(str((tmp_path / "s3").resolve()))


@pytest.mark.cluster   # a real S3 server process
def test_a_port_taken_before_the_server_binds_it_is_retried_on_fresh_ports(tmp_path):
    server = s3_server.SeaweedS3Server(tmp_path / "s3")
    taken = server.filer
    with socket.socket() as other:   # another process takes the filer's port first
        other.bind(("127.0.0.1", taken))
        other.listen()
        with server.start():
            assert server.filer != taken
            server.create_bucket("rb-test")
        grpc = server.grpc
    assert "already in use" in (tmp_path / "s3" / "s3.log").read_text()
    # weed's gRPC sockets, which it puts under /tmp whatever we ask, went with it
    assert not [p for p in Path("/tmp").glob("seaweedfs-*-grpc-*.sock")
                if int(p.stem.rsplit("-", 1)[1]) in grpc]


def test_a_server_that_exits_at_start_is_named_by_its_fatal_line(tmp_path):
    log = tmp_path / "s3.log"
    log.write_text("I1207 06:18:08.23 filer.go:448 Start Seaweed Filer\n"
                   "F1207 06:18:08.23 filer.go:454 Filer store: no such directory /x\n"
                   "goroutine 28 [running]:\n")
    error = s3_server.exit_at_start("seaweedfs", log)
    assert str(error) == ("the S3 server (seaweedfs) exited at start: "
                          "Filer store: no such directory /x")
    assert not isinstance(error, s3_server.PortTaken)
    log.write_text("F1207 06:18:08.23 filer.go:454 Filer listener error: listen tcp "
                   "127.0.0.1:26885: bind: address already in use\n")
    error = s3_server.exit_at_start("seaweedfs", log)
    assert isinstance(error, s3_server.PortTaken)
    assert str(error) == "port 127.0.0.1:26885 (the S3 server, seaweedfs) is already in use"

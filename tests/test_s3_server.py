"""The local S3 server does what the S3-backed broker needs (ranged GETs, conditional PUTs) and
counts what the broker asks of it."""

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

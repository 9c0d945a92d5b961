"""The local S3 server does what the S3-backed broker needs: ranged GETs and conditional PUTs."""

import boto3
import botocore
import pytest

from replaybench.clusters import s3_server
from replaybench.clusters.processes import find_by_marker


def test_ranged_gets_and_conditional_puts(tmp_path):
    with s3_server.S3Server(tmp_path / "s3").start() as server:
        server.create_bucket("rb-test")
        c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=s3_server.ACCESS_KEY,
                         aws_secret_access_key=s3_server.SECRET_KEY, region_name=s3_server.REGION)
        etag = c.put_object(Bucket="rb-test", Key="k", Body=bytes(range(256)) * 4)["ETag"]
        part = c.get_object(Bucket="rb-test", Key="k", Range="bytes=10-19")
        assert part["Body"].read() == bytes(range(10, 20)) and part["ContentLength"] == 10
        for kwargs in ({"IfNoneMatch": "*"}, {"IfMatch": '"not-the-etag"'}):
            with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
                c.put_object(Bucket="rb-test", Key="k", Body=b"new", **kwargs)
        c.put_object(Bucket="rb-test", Key="k", Body=b"new", IfMatch=etag)
        c.put_object(Bucket="rb-test", Key="fresh", Body=b"x", IfNoneMatch="*")
        assert c.get_object(Bucket="rb-test", Key="k")["Body"].read() == b"new"
    assert not find_by_marker(str((tmp_path / "s3").resolve()))

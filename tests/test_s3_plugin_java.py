"""The S3 RemoteStorageManager's own Java tests (tests/java/s3rsm, JUnit from Maven Central),
run against a real local S3 server: upload, ranged fetch, indexes, delete, a copy or multipart
upload interrupted midway, the chunk cache, and each wrong setting refused in one line."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from replaybench.clusters import jvm_build, s3_plugin, s3_server
from replaybench.clusters.artifacts import MavenArtifacts, find_java

JUNIT = MavenArtifacts(name="junit-console-6.0.1", transitive=False, coordinates=(
    "org.junit.platform:junit-platform-console-standalone:6.0.1",))
TESTS = sorted((Path(__file__).parent / "java" / "s3rsm").glob("*.java"))


@pytest.mark.slow(30)
@pytest.mark.cluster   # a real S3 server process
def test_the_plugins_java_tests_pass_against_a_real_s3_server(tmp_path, cache_dir):
    plugin = s3_plugin.build(cache_dir)
    junit = JUNIT.fetch(cache_dir)
    java = find_java().path
    classpath = f"{plugin.classes}:{plugin.kafka}/*:{plugin.sdk}/*:{junit}/*"
    tests = jvm_build.compiled(java, classpath, TESTS, tmp_path / "test-classes",
                               "the plugin's tests")
    with s3_server.SeaweedS3Server(tmp_path / "s3").start() as server:
        env = {**os.environ, "RSM_TEST_ENDPOINT": server.endpoint,
               "RSM_TEST_ACCESS_KEY": s3_server.ACCESS_KEY,
               "RSM_TEST_SECRET_KEY": s3_server.SECRET_KEY, "RSM_TEST_REGION": s3_server.REGION}
        run = subprocess.run(
            [java, "-cp", f"{tests}:{classpath}", "org.junit.platform.console.ConsoleLauncher",
             "execute", "--scan-classpath", str(tests), "--disable-banner",
             "--disable-ansi-colors", "--details=tree"],
            env=env, capture_output=True, text=True, timeout=240)
    summary = dict((k, int(n)) for n, k in re.findall(r"\[\s+(\d+) tests (\w+)\s+\]", run.stdout))
    assert run.returncode == 0 and summary["failed"] == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert summary["successful"] == summary["found"] >= 13   # none skipped or left unfound


@pytest.mark.slow(25)
@pytest.mark.cluster   # a real broker and S3 server
def test_a_broker_whose_remote_tier_is_unusable_refuses_to_start_in_one_line(tmp_path, cache_dir):
    from replaybench.clusters.kafka_config import tiered_overrides
    from replaybench.clusters.local_kafka import LocalKafkaCluster
    from replaybench.errors import ClusterError
    plugin = s3_plugin.build(cache_dir)
    keys = s3_plugin.write_credentials(tmp_path / "keys.properties", s3_server.ACCESS_KEY,
                                       s3_server.SECRET_KEY)
    with s3_server.SeaweedS3Server(tmp_path / "s3").start() as server:
        for n, (endpoint, bucket, named) in enumerate((
                (server.endpoint, "no-such-bucket", "rsm.config.s3.bucket: no bucket "
                                                    "'no-such-bucket' at " + server.endpoint),
                ("http://127.0.0.1:9", "b", "rsm.config.s3.endpoint: cannot reach "
                                            "http://127.0.0.1:9"))):
            where = s3_plugin.Bucket(endpoint, bucket, s3_server.REGION, keys)
            cluster = LocalKafkaCluster(tmp_path / f"kafka-{n}", 1, cache_dir=cache_dir,
                                        overrides=tiered_overrides(
                                            1, s3_plugin.broker_settings(plugin, where)))
            with pytest.raises(ClusterError) as refused:
                with cluster.start():
                    pass
            assert str(refused.value).startswith(f"broker 1 refused to start: {named}")
            assert "\n" not in str(refused.value)


def test_a_plugin_that_does_not_compile_is_one_line(tmp_path):
    from replaybench.errors import ClusterError
    broken = tmp_path / "Broken.java"
    broken.write_text("class Broken { int x = ; }\n")
    with pytest.raises(ClusterError) as refused:
        jvm_build.compiled(find_java().path, "", [broken], tmp_path / "out", "the S3 plugin")
    message = str(refused.value)
    assert message.startswith("compiling the S3 plugin failed: ") and "Broken.java" in message
    assert "\n" not in message and not (tmp_path / "out").exists()


@pytest.mark.slow(45)
@pytest.mark.cluster   # a real tiered broker on a real S3 server
def test_a_tiered_brokers_segments_are_objects_another_client_lists_and_a_deleted_topic_goes(
        cache_dir):
    """What the broker really put in the bucket, listed with boto3 (not the plugin), against
    the documented key layout; and a deleted topic's segments deleted by the broker."""
    import re
    import struct
    import time

    from confluent_kafka import Producer

    from replaybench.clusters import health
    from replaybench.clusters.kafka_config import TIERED_TOPIC_CONFIGS
    from replaybench.clusters.kafka_platform import REMOTE_TIER_BUCKET
    from replaybench.clusters.opening import ClusterChoice, open_cluster

    from tests.kafka_helpers import create_topic

    layout = re.compile(r"^(?P<topic>.+)-(?P<id>[A-Za-z0-9_-]{22})/(?P<partition>\d+)/"
                        r"(?P<start>\d{20})-(?P<segment>[A-Za-z0-9_-]{22})/(?P<name>[a-z-]+)$")
    with open_cluster(ClusterChoice(cache_dir, platform="tiered"), print) as handle:
        s3 = s3_server.client(handle.info.extras["s3_endpoint"])   # boto3, not the plugin
        bootstrap = handle.info.bootstrap
        create_topic(bootstrap, "tiered-objects", 1, 1, TIERED_TOPIC_CONFIGS)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for i in range(4000):   # ~4 MB: three rolled 1 MiB segments to offload
            producer.produce("tiered-objects", value=bytes(1000), key=str(i).encode())
            producer.poll(0)
        assert producer.flush(30) == 0
        del producer   # not left retrying a broker that stops with the cluster

        def keys():
            listed = s3.list_objects_v2(Bucket=REMOTE_TIER_BUCKET).get("Contents", [])
            return {o["Key"]: o["Size"] for o in listed
                    if o["Key"].startswith("tiered-objects-")}
        health.wait_until(lambda: sum(k.endswith("/log") for k in keys()) >= 3, 60,
                          "three segments in the bucket", interval_s=1.0)
        found = keys()
        parts = [layout.match(k) for k in found]
        assert all(parts), [k for k, p in zip(found, parts) if not p]
        folders: dict[str, set[str]] = {}
        for p in parts:
            assert (p["topic"], p["partition"]) == ("tiered-objects", "0")
            folders.setdefault(p["start"], set()).add(p["name"])
        # The plugin writes a segment's indexes first and its log last: a folder without a log
        # is a copy under way (the broker publishes a segment only once its copy finished).
        whole = {"log", "offset", "timestamp", "producer-snapshot", "leader-epoch"}
        for names in folders.values():   # no transactions: no transaction index
            assert names == whole if "log" in names else names < whole, names
        assert sum("log" in names for names in folders.values()) >= 3
        # each log object is Kafka's own segment: its first batch's base offset is the start
        # offset in its key
        for key in (k for k in found if k.endswith("/log")):
            head = s3.get_object(Bucket=REMOTE_TIER_BUCKET, Key=key, Range="bytes=0-7")
            assert struct.unpack(">q", head["Body"].read())[0] == int(layout.match(key)["start"])
            assert 500_000 < found[key] <= 1 << 20
        admin = health.admin(bootstrap)   # must outlive its future, or the request is cancelled
        admin.delete_topics(["tiered-objects"])["tiered-objects"].result(30)
        started = time.monotonic()
        health.wait_until(lambda: not keys(), 90, "the deleted topic's objects to go",
                          interval_s=1.0)
        print(f"deleted in {time.monotonic() - started:.1f} s")


# javac and Maven Central: with the servers' tests, not the quick unit ones
@pytest.mark.cluster
def test_builds_and_fetches_at_once_all_get_a_whole_result_and_leave_no_half(tmp_path,
                                                                              cache_dir):
    """Test workers on a fresh machine build the plugin and fetch its jars at the same time:
    each gets the whole result, and no half-built folder is left behind."""
    from concurrent.futures import ThreadPoolExecutor
    source = tmp_path / "Hello.java"
    source.write_text("class Hello { }\n")
    java = find_java().path
    with ThreadPoolExecutor(3) as pool:
        built = list(pool.map(lambda _: jvm_build.compiled(
            java, "", [source], tmp_path / "classes", "Hello"), range(3)))
    assert built == [tmp_path / "classes"] * 3 and (built[0] / "Hello.class").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Hello.java", "classes"]
    junit = MavenArtifacts(name="junit-race", transitive=False, coordinates=JUNIT.coordinates)
    with ThreadPoolExecutor(2) as pool:
        fetched = list(pool.map(lambda _: junit.fetch(tmp_path / "cache"), range(2)))
    target = tmp_path / "cache" / "maven" / "junit-race"
    assert fetched[0] == fetched[1] == target / "libs"
    assert [p.name for p in fetched[0].iterdir()] == [
        "junit-platform-console-standalone-6.0.1.jar"]
    assert sorted(p.name for p in target.iterdir()) == [".complete", "libs"]

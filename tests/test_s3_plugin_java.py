"""The S3 RemoteStorageManager's own Java tests (tests/java/s3rsm, JUnit from Maven Central),
run against a real local S3 server: upload, ranged fetch, indexes, delete, a copy or multipart
upload interrupted midway, the chunk cache, and each wrong setting refused in one line."""

import os
import re
import subprocess

import pytest

from replaybench.clusters import jvm_build, s3_plugin, s3_server
from replaybench.clusters.artifacts import MavenArtifacts, find_java

JUNIT = MavenArtifacts(name="junit-console-6.0.1", transitive=False, coordinates=(
    "org.junit.platform:junit-platform-console-standalone:6.0.1",))
TESTS = sorted((s3_plugin.SOURCES.parents[2] / "tests" / "java" / "s3rsm").glob("*.java"))


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

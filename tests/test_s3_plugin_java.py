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

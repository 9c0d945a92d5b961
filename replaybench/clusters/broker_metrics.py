"""Broker metrics over HTTP: the Jolokia JVM agent (Maven Central) in each embedded broker,
listening on 127.0.0.1, so that a run can read JMX counters without starting a JVM per read.

Used on Tiered Storage to prove that a restore read the remote tier: the brokers' own
RemoteFetchBytesPerSec / RemoteFetchRequestsPerSec counters (KIP-405).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from replaybench.clusters.artifacts import MavenArtifacts

JOLOKIA_VERSION = "2.6.0"
REMOTE_FETCH = {"bytes": "kafka.server:type=BrokerTopicMetrics,name=RemoteFetchBytesPerSec",
                "requests": "kafka.server:type=BrokerTopicMetrics,name=RemoteFetchRequestsPerSec"}


def jolokia_artifacts() -> MavenArtifacts:
    return MavenArtifacts(name=f"jolokia-{JOLOKIA_VERSION}",
                          coordinates=(f"org.jolokia:jolokia-agent-jvm:{JOLOKIA_VERSION}:javaagent",),
                          transitive=False)


def agent_option(cache_dir: Path, port: int) -> str:
    """The JVM option that starts the agent on 127.0.0.1:port."""
    jar = next(jolokia_artifacts().fetch(cache_dir).glob("jolokia-agent-jvm-*.jar"))
    return f"-javaagent:{jar}=host=127.0.0.1,port={port},discoveryEnabled=false"


def read_count(port: int, mbean: str, timeout_s: float = 5.0) -> int:
    """A meter's cumulative Count since the broker started."""
    url = f"http://127.0.0.1:{port}/jolokia/read/{urllib.request.quote(mbean, safe='')}/Count"
    with urllib.request.urlopen(url, timeout=timeout_s) as reply:
        body = json.loads(reply.read())
    if body.get("status") != 200:
        raise ValueError(f"{mbean}: {body.get('error', body)}")
    return int(body["value"])

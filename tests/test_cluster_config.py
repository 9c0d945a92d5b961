"""Pure pieces of the launcher: config rendering, ids, ports."""

import base64
import socket
from pathlib import Path

import pytest

from replaybench.clusters.kafka_config import NodeLayout, server_properties
from replaybench.clusters.local_kafka import new_cluster_id
from replaybench.clusters.ports import LOWEST, free_ports, require_free
from replaybench.errors import ClusterError


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def _nodes(n: int) -> list[NodeLayout]:
    return [NodeLayout(i, 9000 + i, 9100 + i, Path(f"/x/node-{i}")) for i in range(1, n + 1)]


@pytest.mark.parametrize("count, rf, min_isr", [(1, "1", "1"), (3, "3", "2")])
def test_replication_defaults_follow_cluster_size(count, rf, min_isr):
    nodes = _nodes(count)
    props = _props(server_properties(nodes[0], nodes, {}))
    assert props["default.replication.factor"] == rf
    assert props["offsets.topic.replication.factor"] == rf
    assert props["transaction.state.log.replication.factor"] == rf
    assert props["min.insync.replicas"] == min_isr
    assert props["transaction.state.log.min.isr"] == min_isr


def test_static_quorum_lists_every_voter_and_binds_loopback_only():
    nodes = _nodes(3)
    props = _props(server_properties(nodes[1], nodes, {}))
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"
    assert props["node.id"] == "2"
    assert props["log.dirs"] == "/x/node-2/data"


def test_overrides_win_over_defaults():
    nodes = _nodes(1)
    props = _props(server_properties(nodes[0], nodes, {"num.io.threads": "9"}))
    assert props["num.io.threads"] == "9"


def test_cluster_id_is_a_kafka_uuid():
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        require_free(port, "test")


def test_server_ports_stay_out_of_the_range_clients_are_given():
    """A broker restarted on its port must find it free: the kernel hands ports of its
    ephemeral range to outgoing connections (a reconnecting client may even get the very port
    it dials, and connect to itself), so servers take theirs from below it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(LOWEST <= p < low for p in free_ports(50))


def test_taken_port_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ClusterError, match=f"port 127.0.0.1:{port} \\(broker 1\\) is already in use"):
            require_free(port, "broker 1")

"""A two-node Ray cluster on loopback for the scale-out test, in its own process (the test
process may already host a Ray driver). Prints the address, then holds the cluster until its
stdin closes and shuts it down (by the processes it started)."""

import os
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep Ray on 127.0.0.1
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

from ray.cluster_utils import Cluster  # noqa: E402 - after the environment it reads

cluster = Cluster(initialize_head=True, connect=False, head_node_args={
    "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False,
    "object_store_memory": 128 << 20})
cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1", object_store_memory=128 << 20)
cluster.wait_for_nodes()
print(cluster.address, flush=True)
try:
    sys.stdin.read()
finally:
    cluster.shutdown()

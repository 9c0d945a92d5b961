"""A run from request to results: the workload spec, the cluster and topics, Ray actors, the
coordinator's phases and drills, verification, the manifest.
"""

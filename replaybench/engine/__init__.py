"""A run from request to results: the workload spec, the cluster and topics, Ray actors, the
schedule of phases, its faults, the restore engines, the manifest.
"""

"""Pure judges that say whether a figure is the cluster's: restore hold-ups and live-latency
interference.
"""

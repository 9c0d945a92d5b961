"""Measuring the harness itself and its time: the clock, mergeable interval snapshots, hiccups and
CPU.
"""

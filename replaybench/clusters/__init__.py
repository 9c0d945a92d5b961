"""Clusters the harness runs against: local launchers and external ones."""

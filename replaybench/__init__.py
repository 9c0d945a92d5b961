"""replaybench: restore/replay benchmarks for Kafka-compatible clusters."""

__version__ = "0.1.0"

"""Kafka utilities below every layer that talks to a cluster: librdkafka property files and
their redaction, and creating a run's topics."""

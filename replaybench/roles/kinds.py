"""The kinds of actor a run has, as the coordinator tells them apart. The values are the
`role` the role classes put in their snapshots and the results (a str enum, so a stored role
compares equal to its member)."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    SEEDER = "seeder"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    READER = "reader"
    STREAMS = "streams"     #: an instance of the Kafka Streams application

"""A stand-in for confluent_kafka.Message in unit tests of the core (real-broker tests use the
real thing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeError:
    code_: int

    def code(self) -> int:
        return self.code_


@dataclass
class FakeMessage:
    key_: bytes | None
    value_: bytes | None
    partition_: int = 0
    offset_: int = 0
    error_: FakeError | None = None

    def key(self):
        return self.key_

    def value(self):
        return self.value_

    def partition(self):
        return self.partition_

    def offset(self):
        return self.offset_

    def error(self):
        return self.error_

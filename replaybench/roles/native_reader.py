"""Loads the native restore consumer (ext/rdkafka_reader.pyx) onto confluent-kafka's librdkafka.

The extension declares the librdkafka calls it makes (ext/rdkafka_abi.h) and is not linked to
any librdkafka, so that it can never pick up a second, different one (Debian's librdkafka1 is
2.0, confluent-kafka bundles 2.x of its own). Its calls resolve to the library confluent-kafka
has already loaded, once that library's symbols are made global here; the version check below
makes sure they did.
"""

from __future__ import annotations

import ctypes
import functools
import os
import warnings

#: the first librdkafka whose public structs have the layout rdkafka_abi.h declares (1.0.0)
MIN_LIBRDKAFKA = 0x010000FF
FALLBACK = ("restore readers use confluent-kafka's Message objects, about 2x slower on small "
            "records")


@functools.cache
def unavailable_reason() -> str | None:
    """Why the native consumer cannot be used here, or None when it can."""
    try:
        import confluent_kafka
        ctypes.CDLL(loaded_librdkafka(), mode=os.RTLD_GLOBAL | os.RTLD_NOW)
        from replaybench import _rdkafka_reader
        resolved, wanted = _rdkafka_reader.librdkafka_version(), confluent_kafka.libversion()[1]
    except (ImportError, OSError) as exc:
        return f"replaybench's native restore consumer is unavailable ({exc})"
    if resolved != wanted:
        return (f"the native consumer's calls resolve to librdkafka {resolved:#x}, "
                f"confluent-kafka uses {wanted:#x}")
    if resolved < MIN_LIBRDKAFKA:
        return f"librdkafka {resolved:#x} is older than 1.0, whose message layout it declares"
    return None


@functools.cache
def batch_consumer_class() -> type | None:
    """rdkafka_reader.BatchConsumer, or None (with a warning) when it cannot be used."""
    reason = unavailable_reason()
    if reason:
        warnings.warn(f"{reason}; {FALLBACK} (reinstall with pip install -e . to rebuild it)",
                      RuntimeWarning, stacklevel=2)
        return None
    from replaybench import _rdkafka_reader
    return _rdkafka_reader.BatchConsumer


def loaded_librdkafka() -> str:
    """The path of the librdkafka shared object mapped into this process by confluent-kafka."""
    import confluent_kafka.cimpl  # noqa: F401  (maps its librdkafka)
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if os.path.basename(path).startswith("librdkafka") and ".so" in path:
                return path
    raise ImportError("confluent-kafka's librdkafka is not mapped into this process")

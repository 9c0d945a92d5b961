"""Loads the native restore consumer (ext/rdkafka_reader.pyx) onto confluent-kafka's librdkafka.

The extension is compiled against librdkafka's header but not linked to any librdkafka, so that
it can never pick up a second, different one (Debian's librdkafka1 is 2.0, confluent-kafka
bundles 2.16). Its calls resolve to the library confluent-kafka has already loaded, once that
library's symbols are made global here.
"""

from __future__ import annotations

import ctypes
import functools
import os
import warnings


@functools.cache
def batch_consumer_class() -> type | None:
    """rdkafka_reader.BatchConsumer, or None (with a warning) when it cannot be used."""
    try:
        import confluent_kafka
        ctypes.CDLL(loaded_librdkafka(), mode=os.RTLD_GLOBAL | os.RTLD_NOW)
        from replaybench import _rdkafka_reader
        resolved, wanted = _rdkafka_reader.librdkafka_version(), confluent_kafka.libversion()[1]
        if resolved != wanted:
            raise ImportError(f"its calls resolve to librdkafka {resolved:#x}, confluent-kafka "
                              f"uses {wanted:#x}")
    except (ImportError, OSError) as exc:
        warnings.warn(f"replaybench's native restore consumer is unavailable ({exc}); restore "
                      "readers use confluent-kafka's Message objects, ~2x slower on small "
                      "records (apt install librdkafka-dev, then pip install -e .)",
                      RuntimeWarning, stacklevel=2)
        return None
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

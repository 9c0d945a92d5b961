"""Builds the Cython core in ext/ into the package as replaybench._core, and the native restore
consumer as replaybench._rdkafka_reader when librdkafka's header is installed (Debian:
librdkafka-dev). The consumer is not linked to a librdkafka: at run time it uses the one inside
confluent-kafka (replaybench/roles/native_reader.py)."""
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

COMMON = {
    "include_dirs": [numpy.get_include()],
    "define_macros": [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    "extra_compile_args": ["-O3"],
}
HEADER_DIRS = ["/usr/include", "/usr/local/include",
               *filter(None, os.environ.get("CPATH", "").split(":"))]

extensions = [Extension("replaybench._core", sources=["ext/core.pyx"], **COMMON)]
if any(os.path.exists(os.path.join(d, "librdkafka", "rdkafka.h")) for d in HEADER_DIRS):
    extensions.append(Extension("replaybench._rdkafka_reader",
                                sources=["ext/rdkafka_reader.pyx"], **COMMON))
else:
    print("replaybench: librdkafka/rdkafka.h not found (apt install librdkafka-dev); restore "
          "readers will use confluent-kafka's Message objects, ~2x slower on small records",
          file=sys.stderr)

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)

"""Builds the Cython core in ext/ into the package as replaybench._core, and the native restore
consumer as replaybench._rdkafka_reader. The consumer needs no librdkafka header or library
from the system: it declares the calls it makes (ext/rdkafka_abi.h) and at run time uses the
librdkafka inside confluent-kafka (replaybench/roles/native_reader.py)."""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

COMMON = {
    "include_dirs": [numpy.get_include(), "ext"],
    "define_macros": [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    "extra_compile_args": ["-O3"],
}

extensions = [Extension("replaybench._core", sources=["ext/core.pyx"], **COMMON),
              Extension("replaybench._rdkafka_reader", sources=["ext/rdkafka_reader.pyx"],
                        depends=["ext/rdkafka_abi.h"], **COMMON)]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)

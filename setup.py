"""Builds the compiled scoring kernel; everything else about the package is in pyproject.toml."""

import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# No fused multiply-add: float32 sums must round after every step, as scipy's do (GCC, clang).
STRICT_FLOAT = [] if sys.platform == "win32" else ["-ffp-contract=off"]

setup(
    ext_modules=cythonize(
        [
            Extension(
                "classify.model._kernel",
                ["classify/model/_kernel.pyx"],
                extra_compile_args=STRICT_FLOAT,
            )
        ],
        compiler_directives={"language_level": "3"},
    )
)

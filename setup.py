"""Builds the optional Cython extension; the package works without it.

FASTWS_BUILD_EXTENSION=yes makes a failed extension build an error, =no skips it;
by default (auto) a failure only warns and the pure-Python package is installed.
"""

import glob
import os
import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODE = os.environ.get("FASTWS_BUILD_EXTENSION", "auto").lower()
if MODE not in ("yes", "no", "auto"):
    sys.exit(f"FASTWS_BUILD_EXTENSION must be yes, no or auto, not {MODE!r}")


class OptionalBuildExt(build_ext):
    """build_ext that lets the install go on without the extension unless it is required."""

    def run(self):
        try:
            super().run()
        except Exception as error:  # no compiler, broken toolchain, ...
            self._give_up(error)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:
            self._give_up(error)

    def _give_up(self, error):
        if MODE == "yes":
            raise error
        print(f"WARNING: fastws is installed without its C extension ({error}); the pure-Python implementation will be used.", file=sys.stderr)


def extensions():
    if MODE == "no" or platform.python_implementation() != "CPython":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if MODE == "yes":
            raise
        print("WARNING: Cython is missing; fastws is installed without its C extension.", file=sys.stderr)
        return []
    kernels = sorted(glob.glob("src/fastws/_kernels/*.c"))
    compile_args = [] if sys.platform == "win32" else ["-O3"]
    extension = Extension(
        "fastws._speedups",
        sources=["src/fastws/_speedups.pyx", *kernels],
        include_dirs=["src/fastws"],
        extra_compile_args=compile_args,
    )
    return cythonize([extension], compiler_directives={"language_level": 3}, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})

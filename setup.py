"""Builds the optional Cython extensions; the package works without them.

Two extensions: ``fastws._speedups`` (the framing core: a .pyx over the C kernels)
and ``fastws.protocol._connection_c`` (the protocol's connection module, the same
``_connection.py`` that runs as Python, compiled with the types of
``_connection_c.pxd``). An install that has the first but not the second runs
the pure-Python protocol over the compiled core, with a warning.

FASTWS_BUILD_EXTENSION=yes makes a failed extension build an error (release wheels
set it), =no skips it; by default (auto) a failure only warns and the pure-Python
package is installed.

Cython runs inside build_ext and writes its C into the build directory, so neither
an sdist nor a build touches src/; the sdist ships the .pyx, not generated C.
FASTWS_STRICT_WARNINGS=1 compiles everything, Cython's output included, with
-Wall -Wextra -Werror (gcc and clang): the warnings check of CI.

The compiled modules are listed in COMPILED: one entry per module, so adding one (a .py
compiled with the .pxd beside it, for example) is one line there.
"""

import os
import platform
import sys
from glob import glob
from typing import NamedTuple, Tuple

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODE = os.environ.get("FASTWS_BUILD_EXTENSION", "auto").lower()
if MODE not in ("yes", "no", "auto"):
    sys.exit(f"FASTWS_BUILD_EXTENSION must be yes, no or auto, not {MODE!r}")
STRICT_WARNINGS = os.environ.get("FASTWS_STRICT_WARNINGS", "") not in ("", "0")
# Line tracing for Cython's coverage plugin (tools/coverage.py --cython): slow, never for
# release builds. The C goes next to the source, where the plugin looks for it.
TRACE = os.environ.get("FASTWS_CYTHON_TRACE", "") not in ("", "0")

KERNELS = sorted(glob("src/fastws/_kernels/*.c"))


class Compiled(NamedTuple):
    """One extension module: its import name, its Cython source (a .pyx, or a .py that
    Cython compiles with the .pxd of the same name beside it), and whether it links the
    C kernels. A module that is safe without the GIL says so itself, with the
    freethreading_compatible directive in its header; tests/test_threads.py checks that
    importing fastws on a free-threaded interpreter leaves the GIL off."""

    name: str
    source: str
    kernels: bool = False
    #: Cython directives beyond the defaults.
    directives: Tuple[Tuple[str, object], ...] = ()

    @property
    def traced(self) -> bool:
        """Whether this build traces its lines for coverage: the .pyx only. A compiled .py
        is measured where it runs as Python (the pure implementation runs the same
        lines), and C beside it would make Cython's coverage plugin claim the .py."""
        return TRACE and self.source.endswith(".pyx")


COMPILED = [
    Compiled("fastws._speedups", "src/fastws/_speedups.pyx", kernels=True),
    # The protocol's connection module, compiled from the same .py that runs as Python;
    # annotation_typing off: _connection_c.pxd alone types it, the annotations stay
    # for readers and mypy.
    Compiled("fastws.protocol._connection_c", "src/fastws/protocol/_connection.py", directives=(("annotation_typing", False),)),
]


class OptionalBuildExt(build_ext):
    """build_ext that cythonizes, and lets the install go on without the extension unless it is required."""

    def run(self):
        try:
            super().run()
        except Exception as error:  # no compiler, broken toolchain, ...
            self._give_up(error)

    def build_extension(self, ext):
        try:
            # From the listed source, not ext.sources: without Cython, setuptools renames a
            # .pyx source to a .c that does not exist, and the failure would not say why.
            module = next(module for module in COMPILED if module.name == ext.name)
            ext.sources = [self._cythonize(module), *(KERNELS if module.kernels else [])]
            if self.compiler.compiler_type != "msvc":
                # -g0: release wheels without debug info (4x smaller); the flags come
                # after Python's own CFLAGS, so they win over its -g.
                ext.extra_compile_args = ["-O3", "-g0", *(["-Wall", "-Wextra", "-Werror"] if STRICT_WARNINGS else [])]
            if module.traced:
                ext.define_macros = [*ext.define_macros, ("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]
            super().build_extension(ext)
        except Exception as error:
            self._give_up(error)

    def _cythonize(self, module):
        try:
            from Cython.Build import cythonize
        except ImportError:
            raise RuntimeError("Cython is not installed (it is a build requirement in pyproject.toml)") from None
        trace = module.traced
        # Into build_temp, never next to the .pyx: src/ stays clean for the editable
        # install others may be using, and stale generated C can never be picked up.
        (extension,) = cythonize(
            [Extension(module.name, [module.source])],
            build_dir=None if trace else self.build_temp,
            force=self.force,
            quiet=True,
            compiler_directives={"language_level": 3, **dict(module.directives), **({"linetrace": True} if trace else {})},
        )
        return extension.sources[0]

    def _give_up(self, error):
        if MODE == "yes":
            raise error
        print(
            f"WARNING: fastws is installed without its C extension ({error}); the pure-Python implementation will be used.", file=sys.stderr
        )


def extensions():
    if MODE == "no" or platform.python_implementation() != "CPython":
        return []
    return [
        Extension(module.name, sources=[module.source, *(KERNELS if module.kernels else [])], include_dirs=["src/fastws"])
        for module in COMPILED
    ]


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})

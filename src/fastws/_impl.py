"""The one place that chooses between the Cython extension and the pure-Python twin.

``FASTWS_NO_EXTENSIONS=1`` selects the pure one; so does any interpreter but CPython,
and a missing extension (built without a compiler). An extension that exists but
fails to import falls back too, with a RuntimeWarning: that is a broken install.
"""

from __future__ import annotations

import os
import platform
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Optional

__all__ = ["implementation", "implementation_error", "load", "USE_EXTENSIONS"]

USE_EXTENSIONS = os.environ.get("FASTWS_NO_EXTENSIONS", "") in ("", "0") and platform.python_implementation() == "CPython"

#: Why the extension is not in use, when it is not; None when it is.
implementation_error: Optional[str] = None

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ._pure import *  # noqa: F401,F403

    implementation = "python"
    if not USE_EXTENSIONS:
        implementation_error = "disabled by FASTWS_NO_EXTENSIONS or a non-CPython interpreter"
else:
    try:
        from ._speedups import *  # noqa: F401,F403
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}._speedups":
            raise
        from ._pure import *  # noqa: F401,F403

        implementation = "python"
        implementation_error = "the extension was not built (no C compiler at install time?)"
    except ImportError as error:
        from ._pure import *  # noqa: F401,F403

        implementation = "python"
        implementation_error = f"the extension failed to import: {error}"
        warnings.warn(f"fastws: using the pure-Python implementation because {implementation_error}", RuntimeWarning, stacklevel=2)
    else:
        implementation = "cython"


def load(name: str) -> ModuleType:
    """The implementation module called ``name`` ("cython" or "python"), whichever is
    selected: for tests and benchmarks that compare the two in one process."""
    if name == "cython":
        from . import _speedups

        return _speedups
    if name == "python":
        from . import _pure

        return _pure
    raise ValueError(f"no implementation called {name!r}")

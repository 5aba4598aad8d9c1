"""pytest plugin for running another library's own test suite with fastws installed.

``-p fastws_plugin`` with ``FASTWS_COMPAT_TARGET`` set to a ``fastws.compat`` target
installs that adapter before the suite's modules are imported (websocket-client binds
wsaccel when it is first imported), and fails the run if the adapter is not in place
at the end, so that a suite cannot pass on the library's own code.
"""

from __future__ import annotations

import os
from typing import Any

import fastws.compat

TARGET = os.environ["FASTWS_COMPAT_TARGET"]


def pytest_configure(config: Any) -> None:
    fastws.compat.install(TARGET)
    if TARGET == "autobahn":
        # autobahn runs these tests under pytest on asyncio (USE_ASYNCIO=1), where its
        # other test packages select txaio's framework first; run alone, they need it here.
        import txaio

        txaio.use_asyncio()


def pytest_report_header(config: Any) -> str:
    return f"fastws.compat: {fastws.compat.status()}"


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if fastws.compat.status()[TARGET] != "fastws":
        print(f"\nfastws: the {TARGET} adapter was not installed at the end of the run")
        session.exitstatus = 1

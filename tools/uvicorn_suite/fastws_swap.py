"""pytest plugin: uvicorn's own WebSocket tests with fastws' protocol in place of
uvicorn's built-in ones (tools/uvicorn_suite/run.sh loads it with ``-p``).

- ``ws_protocol_cls``, the fixture their tests take the protocol class from, gives
  ``fastws.uvicorn:WebSocketProtocol`` only (direct parametrisation shadows their
  fixture's two built-ins).
- The name ``WebSocketsSansIOProtocol`` in their test module is ours too: a few
  tests build their config with it directly, and the keepalive tests check that
  the connection is an instance of it before reading its keepalive attributes.

Their files are not edited; nothing is deselected.
"""

from __future__ import annotations

from typing import Any, List

import pytest

from fastws.uvicorn import WebSocketProtocol


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ws_protocol_cls" in metafunc.fixturenames:
        metafunc.definition.add_marker(pytest.mark.parametrize("ws_protocol_cls", [WebSocketProtocol], ids=["fastws"]))


def pytest_collection_modifyitems(items: List[Any]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "WebSocketsSansIOProtocol"):
            module.WebSocketsSansIOProtocol = WebSocketProtocol


def pytest_report_header() -> str:
    return f"WebSocket protocol under test: {WebSocketProtocol.__module__}.{WebSocketProtocol.__qualname__}"

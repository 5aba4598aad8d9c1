"""fastws.compat.websockets: websockets' sans-IO Protocol with the adapter sends and
receives exactly what it does without it (every byte, every event), on both
implementations; and masking is rebound everywhere websockets binds it."""

from __future__ import annotations

import importlib
import secrets
import sys
import warnings
from typing import Any, Callable, Iterator, List

import pytest
import websockets.frames
import websockets.speedups
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol, Side

import compat_helpers
from fastws.compat import websockets as adapter

ORIGINAL = websockets.speedups.apply_mask
SIZES = [0, 1, 16, 125, 126, 65535, 65536, 70000]


@pytest.fixture
def core(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(adapter, "_fastws", impl)
    yield impl
    adapter.uninstall()


def same_with_and_without(scenario: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    # websockets draws its mask keys from secrets.token_bytes.
    return compat_helpers.same_with_and_without(adapter, scenario, monkeypatch, (secrets, "token_bytes"))


def exchange(sender_side: Side, size: int, chunk: int) -> Any:
    receiver_side = Side.SERVER if sender_side is Side.CLIENT else Side.CLIENT
    sender = Protocol(sender_side, state=OPEN, max_size=None)
    receiver = Protocol(receiver_side, state=OPEN, max_size=None)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    text = ("é" * size).encode()[:size]
    text = text[: len(text) - (len(text) % 2)]
    sender.send_binary(payload)
    sender.send_text(text)
    sender.send_text(b"frag", fin=False)
    sender.send_continuation(b"ment", fin=True)
    sender.send_ping(payload[:125])
    sender.send_pong(b"")
    sender.send_close(1000, "bye")
    wire = b"".join(sender.data_to_send())
    events: List[Any] = []
    for start in range(0, len(wire), chunk):
        receiver.receive_data(wire[start : start + chunk])
        events.extend(receiver.events_received())
    return wire, events, receiver.data_to_send(), receiver.close_rcvd


@pytest.mark.parametrize("chunk", [1 << 30, 7], ids=["whole", "7-byte-chunks"])
@pytest.mark.parametrize("side", [Side.CLIENT, Side.SERVER], ids=["masked", "unmasked"])
@pytest.mark.parametrize("size", SIZES)
def test_same_bytes_and_events(core: Any, side: Side, size: int, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if chunk == 7 and size > 1000:
        chunk = 4093  # every size class still crosses chunk boundaries, in less time
    wire, events, reply, close = same_with_and_without(lambda: exchange(side, size, chunk), monkeypatch)
    assert len(events) == 7 and close is not None


@pytest.mark.parametrize("payload", [b"", b"a", b"hello world" * 100])
def test_frames_round_trip(core: Any, payload: bytes) -> None:
    adapter.install()
    frame = Frame(Opcode.BINARY, payload)
    wire = frame.serialize(mask=True)
    reader = websockets.frames.Frame.parse(iter([wire[:2], wire[2:]]).__next__, mask=True)
    assert wire[:2] and reader is not None


def test_install_rebinds_every_apply_mask(core: Any) -> None:
    assert adapter.install() is True and adapter.install() is False
    assert adapter.installed()
    assert websockets.frames.apply_mask is core.apply_mask
    assert websockets.speedups.apply_mask is core.apply_mask
    assert adapter.uninstall() is True and adapter.uninstall() is False
    assert websockets.frames.apply_mask is ORIGINAL and websockets.speedups.apply_mask is ORIGINAL


def test_legacy_framing_imported_before_or_after(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in ("websockets.legacy", "websockets.legacy.framing"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        adapter.install()
        framing = importlib.import_module("websockets.legacy.framing")  # imported after install
        assert framing.apply_mask is core.apply_mask
        adapter.uninstall()
        adapter.install()  # imported before install
        assert framing.apply_mask is core.apply_mask
        adapter.uninstall()
        assert framing.apply_mask is ORIGINAL


@pytest.mark.parametrize(
    "data, mask, error, message",
    [
        (b"abc", b"abc", ValueError, "mask must contain 4 bytes"),
        (b"abc", b"abcde", ValueError, "mask must contain 4 bytes"),
        ("abc", b"abcd", TypeError, None),
        (None, b"abcd", TypeError, None),
        (b"abc", None, TypeError, None),
    ],
)
def test_same_errors_as_websockets(core: Any, data: Any, mask: Any, error: type, message: Any) -> None:
    with pytest.raises(error) as expected:
        ORIGINAL(data, mask)
    with pytest.raises(error) as got:
        core.apply_mask(data, mask)
    if message:
        assert str(got.value) == str(expected.value) == message


def test_keyword_arguments(core: Any) -> None:
    assert core.apply_mask(data=b"\x00\x00", mask=b"abcd") == ORIGINAL(data=b"\x00\x00", mask=b"abcd") == b"ab"


def test_without_the_c_extension(core: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # websockets built without its extension binds websockets.utils.apply_mask.
    import websockets.utils

    pure = websockets.utils.apply_mask
    monkeypatch.setitem(sys.modules, "websockets.speedups", None)
    adapter.install()
    assert websockets.utils.apply_mask is core.apply_mask
    adapter.uninstall()
    assert websockets.utils.apply_mask is pure

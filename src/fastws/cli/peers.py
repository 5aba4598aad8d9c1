"""The peers' hot paths behind one calling convention, so one harness times them all
(``python -m fastws bench`` and ``bench/test_peers.py``).

Each adapter wraps one library's public or documented-internal API into the call
fastws' own operation makes; fastws itself gets the same adapters (:func:`fastws_adapters`).

=================  ====================================================================
operation          call
=================  ====================================================================
apply_mask         ``call(data: bytes, mask: bytes) -> bytes``
apply_mask_into    ``call(buffer: bytearray, mask: bytes) -> None`` (masks in place)
validate_utf8      ``call(data: bytes) -> bool`` (one complete text)
utf8_chunks        ``call(chunks: list[bytes]) -> bool`` (one incremental validator)
parse              ``call(chunks: list[bytes]) -> sequence of frames``: a server parsing
                   masked frames; ``Adapter.payload(frame)`` gives a frame's payload, or
                   None when the adapter hands out no payload object
=================  ====================================================================

Peers are optional: :func:`load` builds the adapters whose library imports, checks each
one once on inputs with a known answer (so a broken adapter cannot report a fake speed),
and says why it left out the others.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib
import logging
import os
import sys
from types import ModuleType
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import fastws

OPERATIONS = ("apply_mask", "apply_mask_into", "validate_utf8", "utf8_chunks", "parse")


class Adapter(NamedTuple):
    label: str  # unique within its operation: "websockets", "aiohttp (Cython)"
    operation: str
    requires: str  # the distribution to install, named when it is missing
    build: Callable[[], Callable[..., Any]]  # imports the peer (ImportError if missing)
    payload: Optional[Callable[[Any], Optional[bytes]]] = None  # parse: frame -> payload


class Loaded(NamedTuple):
    adapter: Adapter
    call: Callable[..., Any]


class AdapterError(Exception):
    """An adapter gave a wrong answer on an input with a known one."""


# -- masking ------------------------------------------------------------------------


def _websockets_mask() -> Callable[..., Any]:
    from websockets.speedups import apply_mask  # the C extension, not the Python fallback

    return apply_mask


def _wsaccel_mask() -> Callable[..., Any]:
    from wsaccel.xormask import XorMaskerSimple

    return lambda data, mask: XorMaskerSimple(mask).process(data)


def _autobahn_mask() -> Callable[..., Any]:
    from autobahn.websocket.xormasker import create_xor_masker  # type: ignore[attr-defined]  # NVX (C via CFFI) when built

    return lambda data, mask: create_xor_masker(mask, len(data)).process(data)  # type: ignore[no-untyped-call]


def _aiohttp_mask_into() -> Callable[..., Any]:
    from aiohttp._websocket.mask import _websocket_mask_cython  # (mask, bytearray), in place

    return lambda buffer, mask: _websocket_mask_cython(mask, buffer)


def _numpy_mask_into() -> Callable[..., Any]:
    import numpy

    uint64 = numpy.uint64

    def mask_into(buffer: bytearray, mask: bytes) -> None:
        words = len(buffer) >> 3
        if words:  # native byte order on both sides, so the bytes line up
            array = numpy.frombuffer(buffer, dtype=uint64, count=words)
            array ^= uint64(int.from_bytes(mask * 2, sys.byteorder))
        for index in range(words << 3, len(buffer)):
            buffer[index] ^= mask[index & 3]

    return mask_into


# -- UTF-8 --------------------------------------------------------------------------


def _decode_validate() -> Callable[..., Any]:
    def validate(data: bytes) -> bool:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    return validate


def _decode_chunks() -> Callable[..., Any]:
    new_decoder = codecs.getincrementaldecoder("utf-8")

    def validate(chunks: List[bytes]) -> bool:
        decode = new_decoder().decode
        try:
            for chunk in chunks:
                decode(chunk)
            decode(b"", True)
        except UnicodeDecodeError:
            return False
        return True

    return validate


def _dfa_validator(validator_class: Callable[[], Any], chunked: bool) -> Callable[..., Any]:
    """wsaccel's and autobahn's validators: ``validate(chunk)`` returns
    (valid so far, ends on a character boundary, index in chunk, total index)."""
    validator = validator_class()

    def validate(data: bytes) -> bool:
        validator.reset()
        valid, complete, _, _ = validator.validate(data)
        return bool(valid and complete)

    def validate_chunks(chunks: List[bytes]) -> bool:
        validator.reset()
        complete = True
        for chunk in chunks:
            valid, complete, _, _ = validator.validate(chunk)
            if not valid:
                return False
        return bool(complete)

    return validate_chunks if chunked else validate


def _wsaccel_validator(chunked: bool) -> Callable[[], Callable[..., Any]]:
    def build() -> Callable[..., Any]:
        from wsaccel.utf8validator import Utf8Validator

        return _dfa_validator(Utf8Validator, chunked)

    return build


def _autobahn_validator(chunked: bool) -> Callable[[], Callable[..., Any]]:
    def build() -> Callable[..., Any]:
        from autobahn.websocket.utf8validator import Utf8Validator  # NVX when built

        return _dfa_validator(Utf8Validator, chunked)

    return build


# -- frame parsing (server side: masked frames) -------------------------------------


def _private_copy(name: str, **replacements: Any) -> ModuleType:
    """A fresh copy of module ``name``, not in sys.modules, with some globals replaced:
    a peer's pure-Python parser with its pure-Python mask, as it runs without its
    extensions (on PyPy, or with them disabled), leaving the peer itself untouched."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for attribute, value in replacements.items():
        if not hasattr(module, attribute):
            raise AttributeError(f"{name} has no {attribute}")
        setattr(module, attribute, value)
    return module


def _websockets_parse(pure: bool) -> Callable[[], Callable[..., Any]]:
    def build() -> Callable[..., Any]:
        from websockets.frames import Frame
        from websockets.streams import StreamReader

        if pure:  # Frame.parse calls its module's apply_mask: the C one when built
            from websockets.utils import apply_mask

            Frame = _private_copy("websockets.frames", apply_mask=apply_mask).Frame  # type: ignore[misc]  # noqa: N806
        parse = Frame.parse

        def run(chunks: Sequence[bytes]) -> List[Any]:
            reader = StreamReader()
            read_exact = reader.read_exact
            frames: List[Any] = []
            parser = parse(read_exact, mask=True)
            for chunk in chunks:
                reader.feed_data(chunk)
                while True:
                    try:
                        next(parser)  # yields while the frame is incomplete
                    except StopIteration as done:
                        frames.append(done.value)
                        parser = parse(read_exact, mask=True)
                    else:
                        break
            return frames

        return run

    return build


def _wsproto_parse() -> Callable[..., Any]:
    from wsproto.frame_protocol import FrameProtocol

    def run(chunks: Sequence[bytes]) -> List[bytes]:
        protocol = FrameProtocol(client=False, extensions=[])
        payloads: List[bytes] = []
        pieces: List[bytes] = []  # wsproto hands out a frame that spans feeds in pieces
        for chunk in chunks:
            protocol.receive_bytes(chunk)
            for frame in protocol.received_frames():
                if frame.frame_finished and not pieces:
                    payload = frame.payload  # bytearray before wsproto 1.3
                    payloads.append(payload if type(payload) is bytes else bytes(payload))  # type: ignore[arg-type]
                else:
                    pieces.append(bytes(frame.payload))  # type: ignore[arg-type]
                    if frame.frame_finished:
                        payloads.append(b"".join(pieces))
                        pieces = []
        return payloads

    return run


class _Protocol:
    """What aiohttp's data queue calls on its protocol (never, under its limit)."""

    _reading_paused = False

    def pause_reading(self) -> None:
        raise AssertionError("aiohttp's queue paused reading: raise its limit")

    resume_reading = pause_reading


def _aiohttp_parse(compiled: bool) -> Callable[[], Callable[..., Any]]:
    def build() -> Callable[..., Any]:
        module: Any
        if compiled:
            module = importlib.import_module("aiohttp._websocket.reader_c")
        else:  # reader_py calls helpers.websocket_mask: the Cython one when built
            from aiohttp._websocket.helpers import _websocket_mask_python

            module = _private_copy("aiohttp._websocket.reader_py", websocket_mask=_websocket_mask_python)
        reader_class, queue_class = module.WebSocketReader, module.WebSocketDataQueue
        protocol = _Protocol()

        def run(chunks: Sequence[bytes]) -> Any:
            # The queue keeps (message, size) pairs; its limit (doubled inside, an
            # unsigned int in the Cython reader) must not stall the reader.
            queue = queue_class(protocol, 1 << 30, loop=None)
            feed = reader_class(queue, 0, compress=False, decode_text=False).feed_data
            for chunk in chunks:
                feed(chunk)
            return queue._buffer

        return run

    return build


class _Socket:
    def fileno(self) -> int:
        return -1

    def setsockopt(self, *arguments: Any) -> None:
        pass

    def getsockopt(self, *arguments: Any) -> int:
        return 0


class _Transport:
    """The parts of an asyncio transport that picows' protocol uses."""

    def __init__(self) -> None:
        self._socket = _Socket()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._socket if name == "socket" else default

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    abort = close


UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _picows_parse(payloads: bool) -> Callable[[], Callable[..., Any]]:
    """picows exposes no parser function: drive its protocol object as asyncio would
    (``get_buffer``/``buffer_updated``) over a fake transport, after an upgrade request."""

    def build() -> Callable[..., Any]:
        import picows
        from picows.picows import WSProtocol  # type: ignore[attr-defined]

        class Listener(picows.WSListener):  # type: ignore[misc]
            def __init__(self) -> None:
                self.frames: Any = []
                self.count = 0

            if payloads:

                def on_ws_frame(self, transport: Any, frame: Any) -> None:
                    self.frames.append(frame.get_payload_as_bytes())

            else:

                def on_ws_frame(self, transport: Any, frame: Any) -> None:
                    self.count += 1

        listener = Listener()

        async def new_protocol() -> Any:  # it takes the running loop
            return WSProtocol(
                None,
                None,
                False,
                lambda request: listener,
                logging.getLogger("fastws.bench.picows"),
                True,
                None,  # disconnect_on_exception, no handshake timeout
                False,
                20,
                20,
                picows.WSAutoPingStrategy.PING_WHEN_IDLE,
                False,  # no auto ping/pong
                1 << 40,
                None,
                16 * 1024,  # max_frame_size, extra headers, read buffer
            )

        loop = asyncio.new_event_loop()
        try:
            protocol = loop.run_until_complete(new_protocol())
        finally:
            loop.close()
        protocol.connection_made(_Transport())
        get_buffer, buffer_updated = protocol.get_buffer, protocol.buffer_updated

        def feed(chunk: bytes) -> None:  # as recv_into would: as much as the buffer takes
            view = memoryview(chunk)
            while view:
                buffer = get_buffer(-1)
                count = min(len(buffer), len(view))
                buffer[:count] = view[:count]
                buffer_updated(count)
                view = view[count:]

        feed(UPGRADE_REQUEST)
        if listener.count or listener.frames or protocol.listener is not listener:
            raise AdapterError("picows did not accept the upgrade request")

        def run(chunks: Sequence[bytes]) -> Any:
            listener.frames, listener.count = [], 0
            for chunk in chunks:
                feed(chunk)
            return listener.frames if payloads else range(listener.count)

        return run

    return build


def _no_payload(frame: Any) -> None:
    return None


def _returning(call: Callable[..., Any]) -> Callable[[], Callable[..., Any]]:
    """A loader for a call that needs no loading."""
    return lambda: call


def _itself(payload: bytes) -> bytes:
    return payload


def _first(item: Any) -> bytes:
    return bytes(item[0].data)  # aiohttp: (WSMessage(type, data, extra), size)


def _data(frame: Any) -> bytes:
    return bytes(frame.data)


def _payload(frame: Any) -> bytes:
    return bytes(frame.payload)


ADAPTERS: Tuple[Adapter, ...] = (
    Adapter("websockets", "apply_mask", "websockets", _websockets_mask),
    Adapter("wsaccel", "apply_mask", "wsaccel", _wsaccel_mask),
    Adapter("autobahn", "apply_mask", "autobahn", _autobahn_mask),
    Adapter("aiohttp", "apply_mask_into", "aiohttp", _aiohttp_mask_into),
    Adapter("numpy", "apply_mask_into", "numpy", _numpy_mask_into),
    Adapter("bytes.decode", "validate_utf8", "(CPython)", _decode_validate),
    Adapter("wsaccel", "validate_utf8", "wsaccel", _wsaccel_validator(chunked=False)),
    Adapter("autobahn", "validate_utf8", "autobahn", _autobahn_validator(chunked=False)),
    Adapter("codecs decoder", "utf8_chunks", "(CPython)", _decode_chunks),
    Adapter("wsaccel", "utf8_chunks", "wsaccel", _wsaccel_validator(chunked=True)),
    Adapter("autobahn", "utf8_chunks", "autobahn", _autobahn_validator(chunked=True)),
    Adapter("websockets", "parse", "websockets", _websockets_parse(pure=False), _data),
    Adapter("websockets (Python)", "parse", "websockets", _websockets_parse(pure=True), _data),
    Adapter("wsproto", "parse", "wsproto", _wsproto_parse, _itself),
    Adapter("aiohttp (Cython)", "parse", "aiohttp", _aiohttp_parse(compiled=True), _first),
    Adapter("aiohttp (Python)", "parse", "aiohttp", _aiohttp_parse(compiled=False), _first),
    Adapter("picows (no payload)", "parse", "picows", _picows_parse(payloads=False), _no_payload),
    Adapter("picows (bytes)", "parse", "picows", _picows_parse(payloads=True), _itself),
)


def fastws_adapters(module: ModuleType, label: str) -> Tuple[Adapter, ...]:
    """fastws' own operations from one implementation module, as adapters."""

    def utf8_chunks(chunks: List[bytes]) -> bool:
        validator = module.Utf8Validator()
        try:
            for chunk in chunks:
                validator.feed(chunk)
            validator.finish()
        except fastws.InvalidUtf8:
            return False
        return True

    def parse(chunks: Sequence[bytes]) -> List[Any]:
        feed = module.FrameParser("server", max_frame_size=None).feed
        frames: List[Any] = []
        for chunk in chunks:
            frames += feed(chunk)
        return frames

    calls: Dict[str, Callable[..., Any]] = {
        "apply_mask": module.apply_mask,
        "apply_mask_into": module.apply_mask_into,
        "validate_utf8": module.validate_utf8,
        "utf8_chunks": utf8_chunks,
        "parse": parse,
    }
    return tuple(
        Adapter(label, operation, "fastws", _returning(call), _payload if operation == "parse" else None)
        for operation, call in calls.items()
    )


# -- checks: every adapter answers inputs with a known answer once ------------------


def _naive_mask(data: bytes, mask: bytes) -> bytes:
    return bytes(byte ^ mask[index & 3] for index, byte in enumerate(data))


def _check_masking(adapter: Adapter, call: Callable[..., Any]) -> None:
    mask = b"\x37\xfa\x21\x3d"
    for length in (0, 1, 7, 8, 125, 1031):
        data = os.urandom(length)
        expected = _naive_mask(data, mask)
        if adapter.operation == "apply_mask":
            result = call(data, mask)
            if type(result) is not bytes or result != expected:
                raise AdapterError(f"masks {length} bytes wrongly")
        else:
            buffer = bytearray(data)
            call(buffer, mask)
            if buffer != expected:
                raise AdapterError(f"masks {length} bytes in place wrongly")


UTF8_CASES = (
    (b"", True),
    ("plain ascii, déjà vu, 漢字, 😀".encode(), True),
    (b"\xff" + b"a" * 100, False),  # invalid first byte
    ("é".encode()[:1], False),  # ends inside a character
    (b"\xed\xa0\x80", False),  # a surrogate
    (b"\xc0\xaf", False),  # overlong
    (b"a" * 5000 + b"\xf4\x90\x80\x80", False),  # above U+10FFFF
)


def _check_utf8(adapter: Adapter, call: Callable[..., Any]) -> None:
    for data, expected in UTF8_CASES:
        if adapter.operation == "validate_utf8":
            result = call(data)
        else:
            result = call([data[i : i + 3] for i in range(0, len(data), 3)])  # split inside characters
        if result is not expected:
            raise AdapterError(f"says {result!r} for {data[:12]!r}... ({len(data)} bytes), expected {expected!r}")


def masked_stream(payloads: Sequence[bytes], chunk_size: int = 65536) -> List[bytes]:
    """Masked binary frames carrying ``payloads``, cut in ``chunk_size`` chunks as a
    server receives them."""
    stream = b"".join(fastws.encode_frame(fastws.Opcode.BINARY, payload, mask=os.urandom(4)) for payload in payloads)
    return [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]


def _check_parse(adapter: Adapter, call: Callable[..., Any]) -> None:
    # Lengths around the 7-bit, 16-bit and 64-bit length encodings, a frame
    # spanning several chunks, small frames cut at chunk boundaries.
    payloads = [os.urandom(length) for length in (0, 1, 16, 125, 126, 1024, 65535, 65536, 200_000)]
    payloads += [os.urandom(16) for _ in range(5000)]
    for chunk_size in (65536, 1000):
        frames = call(masked_stream(payloads, chunk_size))
        if len(frames) != len(payloads):
            raise AdapterError(f"found {len(frames)} frames in {len(payloads)} ({chunk_size}-byte chunks)")
        got = [adapter.payload(frame) for frame in frames] if adapter.payload else []
        if any(payload is not None for payload in got):
            if any(type(payload) is not bytes for payload in got):
                raise AdapterError("hands out payloads that are not bytes")
            if got != payloads:
                raise AdapterError(f"returns wrong payloads ({chunk_size}-byte chunks)")


_CHECKS = {
    "apply_mask": _check_masking,
    "apply_mask_into": _check_masking,
    "validate_utf8": _check_utf8,
    "utf8_chunks": _check_utf8,
    "parse": _check_parse,
}


def check(adapter: Adapter, call: Callable[..., Any]) -> None:
    """Raises AdapterError unless ``call`` answers inputs with known answers right."""
    _CHECKS[adapter.operation](adapter, call)


def load(operation: str, adapters: Sequence[Adapter] = ADAPTERS) -> Tuple[List[Loaded], List[str]]:
    """The adapters for ``operation`` whose library imports and which pass their
    check, and a reason for each of the others ("wsaccel: not installed")."""
    loaded, left_out = [], []
    for adapter in adapters:
        if adapter.operation != operation:
            continue
        try:
            call = adapter.build()
        except ImportError as error:
            left_out.append(f"{adapter.label}: not installed ({error.name or adapter.requires})")
            continue
        except Exception as error:  # a peer whose API changed: leave it out, say why
            left_out.append(f"{adapter.label}: failed to start: {type(error).__name__}: {error}")
            continue
        try:
            check(adapter, call)
        except Exception as error:
            left_out.append(f"{adapter.label}: failed its check: {type(error).__name__}: {error}")
            continue
        loaded.append(Loaded(adapter, call))
    return loaded, left_out

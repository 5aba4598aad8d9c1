"""parse_close: the same (code, reason) or the same error from both implementations,
and a result that agrees with the payload.

Input: byte 0 = buffer type, rest = a close frame's payload.
"""

from __future__ import annotations

from typing import Any, Tuple

from _common import CY, PY, ProtocolError, as_buffer, error_record, run, same


def parse(module: Any, payload: bytes, kind: int) -> Tuple[Any, ...]:
    try:
        code, reason = module.parse_close(as_buffer(payload, kind))
    except ProtocolError as error:
        assert error.close_code in (1002, 1007), error.close_code
        return ("error", error_record(error))
    return ("ok", int(code), type(code).__name__, reason)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kind, payload = data[0], data[1:]
    cython = parse(CY, payload, kind)
    python = parse(PY, payload, kind)
    same("parse_close", cython, python, data)
    if cython[0] == "ok":
        if payload:
            assert cython[1] == int.from_bytes(payload[:2], "big") and cython[3] == payload[2:].decode("utf-8")
            # What parses encodes back to the same payload.
            assert CY.encode_close(cython[1], cython[3]) == payload == PY.encode_close(cython[1], cython[3])
        else:
            assert cython[1] == 1005 and cython[3] == ""


if __name__ == "__main__":
    run(test_one_input)

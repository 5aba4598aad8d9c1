"""parse_header at any offset (in range or not): the same header or the same error
from both implementations; a header that parses re-encodes to the same bytes.

Input: byte 0 = offset, byte 1 = buffer type, rest = the buffer.
"""

from __future__ import annotations

from typing import Any, Tuple

from _common import CY, PY, ProtocolError, as_buffer, error_record, header_record, run, same


def parse(module: Any, buffer: bytes, offset: int, kind: int) -> Tuple[Any, ...]:
    try:
        return ("ok", header_record(module.parse_header(as_buffer(buffer, kind), offset)))
    except ProtocolError as error:
        assert error.close_code == 1002, error.close_code
        return ("error", error_record(error))
    except ValueError as error:  # documented: an offset outside the buffer
        assert not 0 <= offset <= len(buffer)
        return ("error", error_record(error))


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    offset, kind, buffer = data[0] - 8, data[1], data[2:]
    cython = parse(CY, buffer, offset, kind)
    python = parse(PY, buffer, offset, kind)
    same("parse_header", cython, python, data)
    if cython[0] == "ok" and cython[1] is not None:
        fin, rsv1, rsv2, rsv3, opcode, masked, mask, length, header_length = cython[1]
        code = buffer[offset + 1] & 0x7F
        assert header_length == {126: 4, 127: 10}.get(code, 2) + 4 * masked
        assert offset + header_length <= len(buffer)
        assert length == code or code >= 126
        if (code < 126 or (code == 126 and length >= 126)) and length <= 4096:
            # A header in the shortest length encoding re-encodes to the same bytes.
            wire = CY.encode_frame(opcode, bytes(length), fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, mask=mask)
            assert wire[:header_length] == buffer[offset : offset + header_length], (wire[:header_length], buffer)


if __name__ == "__main__":
    run(test_one_input)

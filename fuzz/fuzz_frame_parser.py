"""FrameParser.feed, both roles, random chunkings: Cython and pure Python must give
the same frames, the same pending header and payload after every feed, and the same
error (type, close code, message, frames completed before it).

Input: byte 0 = settings (bit 0 role, bit 1 allow_rsv1, bits 2-4 limit, bits 5-6
buffer type), bytes 1-2 = chunking seed, byte 3 = SIMD level, rest = the wire.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from _common import CY, LEVELS, PY, ProtocolError, as_buffer, cut, error_record, frame_record, header_record, run, same

LIMITS = (None, 0, 1, 125, 126, 65535, 65536, 2**63 - 1)


def parse(module: Any, role: str, limit: Any, allow_rsv1: bool, chunks: List[bytes], kind: int) -> List[Tuple[Any, ...]]:
    parser = module.FrameParser(role, max_frame_size=limit, allow_rsv1=allow_rsv1)
    record: List[Tuple[Any, ...]] = []
    for chunk in chunks:
        try:
            frames = parser.feed(as_buffer(chunk, kind))
        except ProtocolError as error:
            record.append(("error", error_record(error), [frame_record(f) for f in error.frames]))
            # A failed parser refuses everything after, with the same code.
            try:
                parser.feed(b"\x81\x00")
            except ProtocolError as again:
                assert again.close_code == error.close_code, (again.close_code, error.close_code)
            else:
                raise AssertionError("a failed parser accepted more input")
            assert parser.pending_header is None and parser.pending_payload() is None
            return record
        header = parser.pending_header
        payload = parser.pending_payload()
        if header is None:
            assert payload is None
            middle = None
        else:
            assert len(payload) <= header.payload_length
            middle = parser.pending_payload(len(payload) // 2)
            assert payload.endswith(middle)
            try:
                parser.pending_payload(len(payload) + 1)
            except ValueError:
                pass
            else:
                raise AssertionError("pending_payload accepted a start past the end")
        record.append(([frame_record(f) for f in frames], header_record(header), payload, middle))
    return record


def test_one_input(data: bytes) -> None:
    if len(data) < 4:
        return
    settings, seed, level, wire = data[0], int.from_bytes(data[1:3], "little"), data[3], data[4:]
    role = "server" if settings & 1 else "client"
    allow_rsv1 = bool(settings & 2)
    limit = LIMITS[(settings >> 2) & 7]
    kind = (settings >> 5) & 3
    chunks = cut(wire, seed)
    CY.set_simd(LEVELS[level % len(LEVELS)])
    cython = parse(CY, role, limit, allow_rsv1, chunks, kind)
    python = parse(PY, role, limit, allow_rsv1, chunks, kind)
    same("FrameParser.feed", cython, python, data)


if __name__ == "__main__":
    run(test_one_input)

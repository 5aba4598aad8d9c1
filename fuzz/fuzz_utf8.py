"""Utf8Validator with random chunkings, and validate_utf8: Cython and pure Python
must stop at the same ``position``, and agree with ``bytes.decode`` on the verdict.

Input: bytes 0-1 = chunking seed, byte 2 = SIMD level and buffer type, rest = text.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from _common import CY, LEVELS, PY, as_buffer, cut, error_record, run, same

from fastws import InvalidUtf8


def validate(module: Any, chunks: List[bytes], kind: int) -> Tuple[Any, ...]:
    validator = module.Utf8Validator()
    fed = 0
    for chunk in chunks:
        try:
            validator.feed(as_buffer(chunk, kind))
        except InvalidUtf8 as error:
            assert error.close_code == 1007
            assert error.position == validator.position, (error.position, validator.position)
            assert fed <= error.position < fed + len(chunk), (fed, error.position, len(chunk))
            # It stays failed, at the same position.
            try:
                validator.feed(b"a")
            except InvalidUtf8 as again:
                assert again.position == error.position
            else:
                raise AssertionError("a failed validator accepted more input")
            return ("invalid", error_record(error), validator.position)
        fed += len(chunk)
        assert validator.position == fed, (validator.position, fed)
    try:
        validator.finish()
    except InvalidUtf8 as error:
        assert error.position == fed
        return ("unfinished", error_record(error), validator.position)
    return ("valid", validator.position)


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    seed, flags, text = int.from_bytes(data[:2], "little"), data[2], data[3:]
    CY.set_simd(LEVELS[flags % len(LEVELS)])
    kind = flags >> 4
    chunks = cut(text, seed)
    cython = validate(CY, chunks, kind)
    python = validate(PY, chunks, kind)
    same("Utf8Validator", cython, python, data)
    try:
        text.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    if valid != (cython[0] == "valid"):
        raise AssertionError(f"Utf8Validator says {cython[0]} but bytes.decode says valid={valid} for {text!r}")
    for module in (CY, PY):
        if module.validate_utf8(as_buffer(text, kind)) is not valid:
            raise AssertionError(f"{module.__name__}.validate_utf8 disagrees with bytes.decode on {text!r}")


if __name__ == "__main__":
    run(test_one_input)

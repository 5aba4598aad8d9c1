"""fastws.compat.wsaccel.utf8validator against the real wsaccel, on both implementations."""

from __future__ import annotations

import array
import pickle
from typing import Any, Iterator, List

import pytest
import wsaccel.utf8validator as real_module
from compat_helpers import as_kind, kinds
from hypothesis import given
from hypothesis import strategies as st

from fastws.compat.wsaccel import utf8validator as compat_module

Real = real_module.Utf8Validator
Compat = compat_module.Utf8Validator
STATES = range(9)


@pytest.fixture(autouse=True)
def adapter(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(compat_module, "_fastws", impl)
    yield


def snapshot(validator: Any) -> tuple:
    return validator.state, validator.i, validator.codepoint


def both(state: int = 0, i: int = 0, codepoint: int = 0) -> List[Any]:
    validators = [Real(), Compat()]
    for validator in validators:
        validator.state, validator.i, validator.codepoint = state, i, codepoint
    return validators


def test_constants() -> None:
    assert (Compat.UTF8_ACCEPT, Compat.UTF8_REJECT) == (Real.UTF8_ACCEPT, Real.UTF8_REJECT) == (0, 1)
    assert (compat_module.UTF8_ACCEPT, compat_module.UTF8_REJECT) == (0, 1)
    assert snapshot(Compat()) == snapshot(Real()) == (0, 0, 0)


@pytest.mark.parametrize("state", STATES)
def test_decode_every_state_and_byte(state: int) -> None:
    for byte in range(256):
        for codepoint in (0, 0x3F, -5, 1 << 29):
            real, compat = both(state, 7, codepoint)
            assert compat.decode(byte) == real.decode(byte), (state, byte, codepoint)
            assert snapshot(compat) == snapshot(real)


@pytest.mark.parametrize("state", STATES)
def test_validate_every_state_and_byte(state: int) -> None:
    for byte in range(256):
        for tail in (b"", b"a", b"\x80", b"\x80\x80\x80a", b"\xc3\xa9"):
            real, compat = both(state, 3)
            chunk = bytes([byte]) + tail
            assert compat.validate(chunk) == real.validate(chunk), (state, chunk)
            assert snapshot(compat) == snapshot(real)


def test_decode_a_character() -> None:
    validator = Compat()
    assert [validator.decode(byte) for byte in "😀".encode()] == [6, 3, 2, 0]
    assert validator.codepoint == 0x1F600


# Texts mostly valid, cut anywhere, sometimes broken: the cases where the fast verdict,
# the tail DFA and the error position all matter.
texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40).map(lambda text: text.encode())
breakage = st.sampled_from([b"", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff", b"\xe2\x82", b"\xf0"])
documents = st.builds(lambda a, bad, b: a + bad + b, texts, breakage, texts) | st.binary(max_size=60)


@given(documents, st.lists(st.integers(0, 60), max_size=6), kinds, st.booleans())
def test_validate_matches_wsaccel(data: bytes, cuts: List[int], kind: str, decode_first: bool) -> None:
    real, compat = both()
    if decode_first and data:
        assert compat.decode(data[0]) == real.decode(data[0])
        data = data[1:]
    bounds = [0] + sorted(min(cut, len(data)) for cut in cuts) + [len(data)]
    for start, end in zip(bounds, bounds[1:]):
        chunk = as_kind(data[start:end], kind)
        assert compat.validate(chunk) == real.validate(chunk)
        assert snapshot(compat) == snapshot(real)
    real.reset()
    compat.reset()
    assert snapshot(compat) == snapshot(real) == (0, 0, 0)


def test_rejection_is_sticky() -> None:
    validator = Compat()
    assert validator.validate(b"ab\xff") == (False, False, 2, 2)
    assert validator.validate(b"cd") == (False, False, 0, 2)
    assert validator.validate(b"") == (True, False, 0, 2)
    assert validator.state == Compat.UTF8_REJECT


def test_index_wraps_like_a_c_int() -> None:
    real, compat = both(0, 2**31 - 1)
    for chunk in (b"ab", b"\xe2\x82", b"\xac", b"\xff"):
        assert compat.validate(chunk) == real.validate(chunk)
        assert snapshot(compat) == snapshot(real)


BAD_BUFFERS = [
    None,
    "text",
    12,
    [1, 2],
    array.array("b", b"ab"),
    array.array("i", [1]),
    array.array("u", "ab"),
    memoryview(b"abcd").cast("B", (2, 2)),
]


@pytest.mark.parametrize("buffer", BAD_BUFFERS, ids=repr)
def test_validate_refuses_what_wsaccel_refuses(buffer: Any) -> None:
    with pytest.raises(Exception) as expected:
        Real().validate(buffer)
    with pytest.raises(expected.type) as got:
        Compat().validate(buffer)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("buffer", [memoryview(b"ab").cast("c"), memoryview(b"ab").cast("?")], ids=repr)
def test_validate_accepts_what_wsaccel_accepts(buffer: Any) -> None:
    assert Compat().validate(buffer) == Real().validate(buffer)


@pytest.mark.parametrize("value", [5, True, 1.9, -(2**31), 2**31 - 1, 2**31, -(2**31) - 1, "x", None], ids=repr)
@pytest.mark.parametrize("name", ["i", "state", "codepoint"])
def test_attributes_convert_like_cython(name: str, value: Any) -> None:
    outcomes = []
    for validator in both():
        try:
            setattr(validator, name, value)
        except Exception as error:  # noqa: BLE001 (compared below)
            outcomes.append((type(error), str(error)))
        else:
            outcomes.append(getattr(validator, name))
    assert outcomes[0] == outcomes[1]


def test_attributes_cannot_be_deleted() -> None:
    with pytest.raises(NotImplementedError, match="__del__"):
        del Compat().i


def test_decode_refuses_non_bytes() -> None:
    validator = Compat()
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        validator.decode("a")
    for value in (-1, 256):  # wsaccel reads outside its table
        with pytest.raises(ValueError, match="one byte"):
            validator.decode(value)


@pytest.mark.parametrize("state", [-1, 9])
def test_states_outside_the_dfa_are_refused(state: int) -> None:
    validator = Compat()
    validator.state = state  # wsaccel accepts it too, then reads outside its table
    with pytest.raises(ValueError, match="state of the DFA"):
        validator.validate(b"a")
    with pytest.raises(ValueError, match="state of the DFA"):
        validator.decode(0x41)


def test_pickles() -> None:
    validator = Compat()
    validator.validate(b"ab\xe2")
    copy = pickle.loads(pickle.dumps(validator))
    assert snapshot(copy) == snapshot(validator)

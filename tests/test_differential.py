"""Property tests: the Cython and pure-Python implementations against each other and
against the naive reference, on random inputs and random chunkings (hypothesis)."""

from __future__ import annotations

import pytest
import reference
from conftest import PURE_ONLY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastws import InvalidUtf8, ProtocolError, _impl

pytestmark = pytest.mark.skipif(PURE_ONLY, reason="FASTWS_TEST_PURE_ONLY: no Cython implementation to compare")
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


@pytest.fixture
def py():
    return _impl.load("python")


def buffers(data):
    """The same bytes as bytes, bytearray and a non-contiguous memoryview."""
    spread = bytes(x for byte in data for x in (byte, 0xAA))
    return [data, bytearray(data), memoryview(spread)[::2]]


def split(data, cuts):
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


# Text that hits every UTF-8 length and the awkward edges, then random corruption.
utf8_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300).map(str.encode)


@st.composite
def maybe_corrupted_utf8(draw):
    data = bytearray(draw(utf8_text))
    for _ in range(draw(st.integers(0, 2))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@fixture_ok
@given(data=st.binary(max_size=2000), key=st.binary(min_size=4, max_size=4), cuts=st.lists(st.integers(0, 2000), max_size=5))
def test_masking(cy, py, data, key, cuts):
    expected = reference.mask(data, key)
    for buffer in buffers(data):
        assert cy.apply_mask(buffer, key) == py.apply_mask(buffer, key) == expected
    for module in (cy, py):
        masker = module.Masker(key)
        assert b"".join(masker.process(piece) for piece in split(data, cuts)) == expected
        in_place = bytearray(data)
        module.apply_mask_into(in_place, key)
        assert in_place == expected


@fixture_ok
@given(data=maybe_corrupted_utf8(), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_utf8(cy, py, data, cuts):
    try:
        data.decode("utf-8")
        decodes = True
    except UnicodeDecodeError:
        decodes = False
    for buffer in buffers(data):
        assert cy.validate_utf8(buffer) is py.validate_utf8(buffer) is decodes
    positions = []
    for module in (cy, py):
        validator = module.Utf8Validator()
        try:
            for piece in split(data, cuts):
                validator.feed(piece)
            validator.finish()
            positions.append(None)
        except InvalidUtf8 as error:
            assert error.close_code == 1007
            positions.append(error.position)
    assert positions[0] == positions[1] == reference.utf8_error(data)


@st.composite
def frame_streams(draw):
    """A role, and the bytes of random frames a peer of that role would send, some
    perhaps broken by a flipped header bit."""
    role = draw(st.sampled_from(["server", "client"]))
    wire = b""
    for _ in range(draw(st.integers(1, 6))):
        opcode = draw(st.sampled_from([0, 1, 2, 8, 9, 10]))
        control = opcode >= 8
        payload = draw(st.binary(max_size=125 if control else 300))
        fin = True if control else draw(st.booleans())
        key = draw(st.binary(min_size=4, max_size=4)) if role == "server" else None
        length_bytes = draw(st.sampled_from([None, None, 2, 8])) if not control else None
        wire += reference.frame(opcode, payload, fin=fin, key=key, length_bytes=length_bytes)
    if draw(st.booleans()):
        data = bytearray(wire)
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= 1 << draw(st.integers(0, 7))
        wire = bytes(data)
    return role, wire


def run_parser(module, role, wire, cuts, limit):
    """Frames, the error, and what the parser said of the pending frame after each feed."""
    parser = module.FrameParser(role, max_frame_size=limit, allow_rsv1=False)
    frames = []
    pending = []
    try:
        for piece in split(wire, cuts):
            frames += parser.feed(piece)
            header = parser.pending_header
            pending.append(None if header is None else (header._values(), parser.pending_payload()))
    except ProtocolError as error:
        frames += error.frames
        return [(f.opcode, f.payload, f.fin, f.rsv1, f.rsv2, f.rsv3) for f in frames], (error.close_code, str(error)), pending
    return [(f.opcode, f.payload, f.fin, f.rsv1, f.rsv2, f.rsv3) for f in frames], None, pending


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=300)
@given(stream=frame_streams(), cuts=st.lists(st.integers(0, 3000), max_size=8), limit=st.sampled_from([None, 200, 2**20]))
def test_frame_parser(cy, py, stream, cuts, limit):
    role, wire = stream
    cy_result = run_parser(cy, role, wire, cuts, limit)
    assert cy_result == run_parser(py, role, wire, cuts, limit)
    # Any chunking gives what feeding everything at once gives, up to the error.
    whole = run_parser(cy, role, wire, [], limit)
    assert cy_result[1] == whole[1]
    if whole[1] is None:
        assert cy_result[0] == whole[0]


@fixture_ok
@given(data=st.binary(max_size=16), offset=st.integers(0, 4))
def test_parse_header(cy, py, data, offset):
    results = []
    for module in (cy, py):
        try:
            header = module.parse_header(data, min(offset, len(data)))
            results.append(None if header is None else header._values())
        except ProtocolError as error:
            results.append((error.close_code, str(error)))
    assert results[0] == results[1]


@fixture_ok
@given(payload=st.one_of(st.binary(max_size=130), st.binary(min_size=2, max_size=2).map(lambda b: b + "déjà".encode())))
def test_parse_close(cy, py, payload):
    results = []
    for module in (cy, py):
        try:
            results.append(module.parse_close(payload))
        except InvalidUtf8 as error:
            results.append(("utf8", error.position, str(error)))
        except ProtocolError as error:
            results.append((error.close_code, str(error)))
    assert results[0] == results[1]


FRAME_FLAGS = st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans())
MASK_KEYS = st.one_of(st.none(), st.binary(min_size=4, max_size=4))


def encoded_by_both(cy, py, encode, flags, key):
    """What ``encode(module, fin=..., rsv1=..., ..., mask=key)`` gives in each
    implementation (its ValueError's message if it refuses), checked equal."""
    fin, rsv1, rsv2, rsv3 = flags
    outcomes = []
    for module in (cy, py):
        try:
            outcomes.append(encode(module, fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, mask=key))
        except ValueError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


@fixture_ok
@given(opcode=st.sampled_from([0, 1, 2, 8, 9, 10]), payload=st.binary(max_size=300), flags=FRAME_FLAGS, key=MASK_KEYS)
def test_encode_frame(cy, py, opcode, payload, flags, key):
    wire = encoded_by_both(cy, py, lambda module, **options: module.encode_frame(opcode, payload, **options), flags, key)
    if isinstance(wire, bytes):
        rsv = flags[1] << 2 | flags[2] << 1 | flags[3]
        assert wire == reference.frame(opcode, payload, fin=flags[0], rsv=rsv, key=key)


@fixture_ok
@given(
    opcode=st.sampled_from([0, 1, 2, 3, 8, 9, 10]),
    length=st.one_of(st.integers(-2, 70_000), st.integers(2**63 - 2, 2**63 + 1)),
    flags=FRAME_FLAGS,
    key=MASK_KEYS,
)
def test_encode_frame_header(cy, py, opcode, length, flags, key):
    header = encoded_by_both(cy, py, lambda module, **options: module.encode_frame_header(opcode, length, **options), flags, key)
    if isinstance(header, bytes) and length <= 300:
        rsv = flags[1] << 2 | flags[2] << 1 | flags[3]
        whole = reference.frame(opcode, bytes(length), fin=flags[0], rsv=rsv, key=key)
        assert whole[: len(header)] == header
        assert len(whole) - len(header) == length

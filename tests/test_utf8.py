"""validate_utf8 and Utf8Validator (RFC 3629, RFC 6455 §8.1), at every kernel level."""

from __future__ import annotations

import array
import random

import pytest
import reference

from fastws import InvalidUtf8

SAMPLES = {
    "ascii": "The quick brown fox jumps over the lazy dog. " * 50,
    "accented": "Ça fait déjà été, naïve façade, señor, Köln, Ærø. " * 50,
    "cjk": "漢字仮名交じり文、中文字符、한국어 텍스트。" * 50,
    "emoji": "😀🎉🚀🌍👍🏽🧑‍💻" * 50,
    "mixed": "ASCII, é, 漢, 😀, Ω, ß, ق, अ, " * 50,
    "boundaries": "\x00\x7f\x80\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff",
}

# (bytes, position of the byte that makes them invalid): RFC 3629's strict rules.
INVALID = [
    (b"\xc0", 0),  # overlong lead
    (b"\xc1\xbf", 0),
    (b"\x80", 0),  # lone continuation
    (b"abc\xbf", 3),
    (b"\xed\xa0", 1),  # surrogate U+D800, fails on its second byte
    (b"\xed\xbf\xbf", 1),
    (b"\xf4\x90", 1),  # above U+10FFFF
    (b"\xf5", 0),
    (b"\xff", 0),
    (b"\xe0\x80", 1),  # overlong 3-byte
    (b"\xe0\x9f\xbf", 1),
    (b"\xf0\x80", 1),  # overlong 4-byte
    (b"\xf0\x8f\xbf\xbf", 1),
    (b"\xe2\x82\x41", 2),  # continuation missing
    (b"\xc3\x28", 1),
    (b"\xf0\x9f\x98\x28", 3),
    ("κόσμε".encode() + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 22),  # Autobahn 6.4-style
]
INCOMPLETE = [b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"ok\xf4\x8f\xbf"]


@pytest.mark.parametrize("name", SAMPLES)
def test_valid_text(kernel, name):
    data = SAMPLES[name].encode()
    assert kernel.validate_utf8(data) is True
    validator = kernel.Utf8Validator()
    validator.feed(data)
    validator.finish()
    assert validator.position == len(data)


@pytest.mark.parametrize("data, position", INVALID)
@pytest.mark.parametrize("padding", [0, 1, 15, 16, 31, 63, 64, 100, 1000], ids=lambda n: f"after{n}")
def test_invalid_text_fails_at_the_exact_byte(kernel, data, position, padding):
    data = b"a" * padding + data
    position += padding
    assert reference.utf8_error(data) == position
    assert kernel.validate_utf8(data) is False
    validator = kernel.Utf8Validator()
    with pytest.raises(InvalidUtf8) as caught:
        validator.feed(data)
    assert caught.value.position == position
    assert caught.value.close_code == 1007


@pytest.mark.parametrize("data, position", INVALID)
def test_fail_fast_byte_by_byte(kernel, data, position):

    validator = kernel.Utf8Validator()
    for index in range(len(data)):
        if index < position:
            validator.feed(data[index : index + 1])
            continue
        with pytest.raises(InvalidUtf8) as caught:
            validator.feed(data[index : index + 1])
        assert caught.value.position == position
        break
    # The failure is sticky until reset().
    with pytest.raises(InvalidUtf8) as again:
        validator.feed(b"a")
    assert again.value.position == position
    validator.reset()
    validator.feed(b"fine")
    validator.finish()


@pytest.mark.parametrize("data", INCOMPLETE)
def test_text_ending_inside_a_character(kernel, data):

    assert kernel.validate_utf8(data) is False
    validator = kernel.Utf8Validator()
    validator.feed(data)  # a valid prefix: not an error yet
    with pytest.raises(InvalidUtf8) as caught:
        validator.finish()
    assert caught.value.position == len(data)


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 4096])
def test_chunked_valid_text(kernel, name, chunk):
    data = SAMPLES[name].encode()
    validator = kernel.Utf8Validator()
    for start in range(0, len(data), chunk):
        validator.feed(data[start : start + chunk])
    validator.finish()


def test_large_invalid_at_every_region(kernel):

    base = bytearray(SAMPLES["mixed"].encode() * 20)
    rng = random.Random(1)
    for _ in range(200):
        data = bytearray(base)
        at = rng.randrange(len(data))
        data[at] = rng.choice([0x80, 0xC0, 0xED, 0xF5, 0xFF, 0xE0])
        expected = reference.utf8_error(bytes(data))
        assert kernel.validate_utf8(data) is (expected is None)
        validator = kernel.Utf8Validator()
        if expected is None:
            validator.feed(data)
            validator.finish()
        else:
            with pytest.raises(InvalidUtf8) as caught:
                validator.feed(data)
                validator.finish()
            assert caught.value.position == expected


def test_rejects_a_bad_first_byte_without_reading_on(kernel):
    data = b"\xff" + b"a" * (1 << 20)
    assert kernel.validate_utf8(data) is False


def test_any_buffer(kernel):
    text = SAMPLES["mixed"].encode()
    for data in (bytearray(text), memoryview(text), array.array("B", text)):
        assert kernel.validate_utf8(data) is True
        kernel.Utf8Validator().feed(data)
    assert kernel.validate_utf8(memoryview(b"\xc3\xa9\xc3\xa9")[::2]) is False  # non-contiguous: c3 c3
    with pytest.raises(TypeError, match="bytes-like object is required"):
        kernel.validate_utf8("text")
    with pytest.raises(TypeError, match="bytes-like object is required"):
        kernel.Utf8Validator().feed("text")


def test_empty(kernel):
    assert kernel.validate_utf8(b"") is True
    validator = kernel.Utf8Validator()
    validator.feed(b"")
    validator.finish()
    assert validator.position == 0

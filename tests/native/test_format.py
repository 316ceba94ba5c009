"""Stream formats (SPEC §2.1 content types) and byte orders."""

import pytest

from mediacore.codec import ByteOrder, Format


@pytest.mark.parametrize("text, fmt", [
    ("audio/x-mulaw;rate=8000", Format.MULAW_8K),
    ("audio/x-l16;rate=8000", Format.L16_8K),
    ("audio/x-l16;rate=16000", Format.L16_16K),
    ("audio/x-l16; rate=16000", Format.L16_16K),
    ("  audio/x-L16 ;  rate = 16000 ", Format.L16_16K),
    ("AUDIO/X-MULAW;RATE=8000", Format.MULAW_8K),
])
def test_content_types_parse_with_spaces_and_any_case(text, fmt):
    assert Format.parse(text) is fmt


@pytest.mark.parametrize("text, why", [
    ("audio/x-l16;rate=44100", "unsupported content type 'audio/x-l16;rate=44100'"),
    ("audio/x-mulaw;rate=16000", "unsupported content type"),
    ("audio/x-l16", "rate parameter is missing"),
    ("audio/wav;rate=8000", "unsupported content type"),
    ("audio/x-l16;rate=fast", "is not a number"),
    ("audio/x-l16;rate=8000;channels=2", "unsupported content type"),
    ("audio/x-l16;rate=8000;rate=8000", "unsupported content type"),
    ("", "unsupported content type"),
])
def test_anything_else_is_refused_with_the_accepted_list(text, why):
    with pytest.raises(ValueError, match=why) as err:
        Format.parse(text)
    assert "audio/x-l16;rate=16000" in str(err.value)


def test_parse_refuses_non_strings():
    with pytest.raises(ValueError, match="must be a string"):
        Format.parse(8000)


@pytest.mark.parametrize("encoding, rate, fmt", [
    ("audio/x-mulaw", 8000, Format.MULAW_8K),
    ("audio/x-l16", "16000", Format.L16_16K),
    ("audio/x-l16", 8000.0, Format.L16_8K),
])
def test_from_parts_accepts_numbers_and_numeric_strings(encoding, rate, fmt):
    assert Format.from_parts(encoding, rate) is fmt


@pytest.mark.parametrize("rate", ["8k", 8000.5, True, None, "-8000"])
def test_from_parts_refuses_rates_that_are_not_whole_numbers(rate):
    with pytest.raises(ValueError, match="unsupported content type"):
        Format.from_parts("audio/x-l16", rate)


def test_format_properties():
    assert [f.frame_bytes for f in Format] == [160, 320, 640]
    assert [f.sample_rate for f in Format] == [8000, 8000, 16000]
    assert [f.encoding for f in Format] == ["audio/x-mulaw", "audio/x-l16", "audio/x-l16"]
    assert Format.MULAW_8K.silence == b"\xff" and Format.L16_8K.silence == b"\x00"
    assert Format.L16_16K.bytes_for_ms(1000) == 32000
    assert Format.parse(Format.L16_8K) is Format.L16_8K
    assert Format.L16_8K == "audio/x-l16;rate=8000"


def test_byte_order_parsing():
    assert ByteOrder.parse("BE") is ByteOrder.BE
    assert ByteOrder.parse(ByteOrder.LE) is ByteOrder.LE
    with pytest.raises(ValueError, match="unknown byte order 'middle'"):
        ByteOrder.parse("middle")


def test_errors_quote_a_huge_content_type_or_rate_cut_short():
    """A server's playAudio can carry a megabyte of content type: the error that goes back to
    it (and into logs) names the start of it, not all of it."""
    huge = "audio/x-" + "a" * 1_000_000
    for call in (lambda: Format.parse(huge), lambda: Format.from_parts("audio/x-mulaw", huge)):
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert len(message) < 400 and "aaaa..." in message and "expected one of" in message

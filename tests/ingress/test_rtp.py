"""RTP packets (RFC 3550): parse <-> build round trips, every header feature, and every
malformed datagram refused with its reason (never another exception)."""

import struct

import pytest
from hypothesis import given, strategies as st

from mediacore.ingress.rtp import DropReason, RtpError, RtpPacket, build, parse

# A PCMU packet as ffmpeg sends it (captured: version 2, PT 0, 160 payload bytes)
FFMPEG_PCMU = bytes.fromhex("80000376f96e5c31d0651328") + bytes(range(160))


def test_a_captured_ffmpeg_packet_parses_and_rebuilds_byte_for_byte():
    p = parse(FFMPEG_PCMU)
    assert p == RtpPacket(False, 0, 0x0376, 0xF96E5C31, 0xD0651328, bytes(range(160)))
    assert build(p.payload_type, p.sequence_number, p.timestamp, p.ssrc, p.payload) == FFMPEG_PCMU


def test_csrcs_extension_padding_and_marker_round_trip():
    data = build(96, 65535, 2**32 - 1, 7, b"\x01\x02" * 80, marker=True, csrcs=(1, 2, 3),
                 extension=(0xBEDE, b"\xaa" * 8), padding_bytes=4)
    assert data[0] == 0x80 | 0x20 | 0x10 | 3
    assert len(data) == 12 + 12 + 4 + 8 + 160 + 4
    p = parse(data)
    assert (p.marker, p.payload_type, p.sequence_number, p.timestamp, p.ssrc) == (
        True, 96, 65535, 2**32 - 1, 7)
    assert p.csrcs == (1, 2, 3)
    assert p.extension == (0xBEDE, b"\xaa" * 8)
    assert p.payload == b"\x01\x02" * 80 and p.padding_bytes == 4


@pytest.mark.parametrize("data, reason", [
    (b"", DropReason.TRUNCATED),
    (FFMPEG_PCMU[:11], DropReason.TRUNCATED),
    (bytes([0x40]) + FFMPEG_PCMU[1:], DropReason.WRONG_VERSION),            # version 1
    (bytes([0xC0]) + FFMPEG_PCMU[1:], DropReason.WRONG_VERSION),            # version 3
    (bytes([0x8F]) + FFMPEG_PCMU[1:40], DropReason.TRUNCATED),              # 15 CSRCs, 40 bytes
    (bytes([0xA0]) + FFMPEG_PCMU[1:12] + b"\x00", DropReason.TRUNCATED),    # padding count 0
    (bytes([0xA0]) + FFMPEG_PCMU[1:12] + b"\x20", DropReason.TRUNCATED),    # padding > packet
    (bytes([0x90]) + FFMPEG_PCMU[1:12] + b"\xbe\xde", DropReason.TRUNCATED),  # extension cut
    (bytes([0x90]) + FFMPEG_PCMU[1:12] + b"\xbe\xde\x00\x09" + bytes(8), DropReason.TRUNCATED),
    (bytes([0x80, 200]) + bytes(26), DropReason.RTCP),                     # an RTCP SR
])
def test_malformed_datagrams_are_refused_with_their_reason(data, reason):
    with pytest.raises(RtpError) as info:
        parse(data)
    assert info.value.reason is reason
    assert str(info.value)


@given(st.binary(max_size=200))
def test_parse_raises_nothing_but_rtp_error(data):
    try:
        p = parse(data)
    except RtpError:
        return
    assert len(p.payload) + 12 <= len(data)


@given(pt=st.integers(0, 127).filter(lambda v: not 64 <= v <= 95), seq=st.integers(0, 65535),
       ts=st.integers(0, 2**32 - 1), ssrc=st.integers(0, 2**32 - 1),
       payload=st.binary(max_size=64), marker=st.booleans(),
       csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15).map(tuple),
       pad=st.integers(0, 255))
def test_build_then_parse_is_the_identity(pt, seq, ts, ssrc, payload, marker, csrcs, pad):
    p = parse(build(pt, seq, ts, ssrc, payload, marker=marker, csrcs=csrcs, padding_bytes=pad))
    assert p == RtpPacket(marker, pt, seq, ts, ssrc, payload, csrcs, None, pad)


def test_build_names_the_out_of_range_field():
    with pytest.raises(ValueError, match="sequence_number"):
        build(0, 65536, 0, 0, b"")
    with pytest.raises(ValueError, match="payload_type"):
        build(128, 0, 0, 0, b"")
    with pytest.raises(ValueError, match="32-bit words"):
        build(0, 0, 0, 0, b"", extension=(1, b"abc"))


def test_a_memoryview_of_a_receive_buffer_parses_to_owned_bytes():
    buf = bytearray(2048)
    buf[:len(FFMPEG_PCMU)] = FFMPEG_PCMU
    p = parse(memoryview(buf)[:len(FFMPEG_PCMU)])
    buf[12:] = bytes(len(buf) - 12)  # the buffer is reused for the next datagram
    assert p.payload == bytes(range(160)) and type(p.payload) is bytes
    assert struct.unpack("!H", FFMPEG_PCMU[2:4])[0] == p.sequence_number

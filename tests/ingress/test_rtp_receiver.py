"""What one RTP port accepts: audio for the jitter buffer, one digit per key press, every
drop counted by its reason; source locking; RTP playback packets (sequence, timestamp,
marker, SSRC, DTMF)."""

import pytest

from mediacore.codec import l16_swap
from mediacore.ingress.rtp import build, parse
from mediacore.ingress.rtp_playback import RtpPlayback
from mediacore.ingress.rtp_receiver import RtpReceiver
from mediacore.ingress.telephone_event import encode_event

A = ("192.0.2.10", 4000)
B = ("192.0.2.11", 4000)


def pcmu(seq, ts=None, ssrc=7, size=160, pt=0):
    return build(pt, seq, ts if ts is not None else seq * 160, ssrc, bytes(size))


def test_audio_is_accepted_and_every_bad_datagram_is_dropped_and_counted():
    rx = RtpReceiver(payload_type=0, clock_rate=8000, l16=False)
    ok = rx.receive(pcmu(1), A, 0.0)
    assert ok.sequence_number == 1 and ok.payload == bytes(160)
    for size in (80, 240, 480):            # 10, 30, 60 ms: any ptime the buffer takes
        assert rx.receive(pcmu(2, size=size), A, 0.1) is not None
    bad = [b"\x80\x00", bytes([0x40]) + pcmu(3)[1:], pcmu(4, pt=8), pcmu(5, size=100),
           pcmu(6, size=560), bytes([0x80, 201]) + bytes(30), pcmu(7)]
    results = [rx.receive(bad[i], B if i == 6 else A, 0.2) for i in range(len(bad))]
    assert results == [None] * 7
    s = rx.stats()
    assert (s.received_packets, s.audio_packets, s.audio_payload_bytes) == (11, 4, 960)
    assert (s.dropped_truncated_packets, s.dropped_wrong_version_packets,
            s.dropped_unknown_payload_type_packets, s.dropped_bad_payload_size_packets,
            s.dropped_rtcp_packets, s.dropped_foreign_source_packets) == (1, 1, 1, 2, 1, 1)
    assert s.dropped_packets == 7


def test_the_source_relatches_only_after_the_locked_one_fell_silent():
    rx = RtpReceiver(payload_type=0, clock_rate=8000, l16=False, relatch_after_s=2.0)
    assert rx.receive(pcmu(1), A, 10.0) is not None
    assert rx.receive(pcmu(2), B, 11.9) is None           # foreign while A is live
    assert rx.receive(pcmu(3), A, 12.0) is not None
    assert rx.receive(pcmu(4), B, 14.0) is not None       # A silent for 2 s: B takes over
    assert rx.source == B
    assert rx.receive(pcmu(5), A, 14.1) is None
    s = rx.stats()
    assert (s.source_relatches, s.dropped_foreign_source_packets) == (1, 2)


def test_l16_leaves_network_byte_order_and_ssrc_changes_are_counted():
    rx = RtpReceiver(payload_type=96, clock_rate=16000, l16=True)
    be = bytes(range(256)) + bytes(64)  # 320 bytes = 10 ms at 16 kHz
    p = rx.receive(build(96, 1, 0, 1, be), A, 0.0)
    assert p.payload == l16_swap(be)
    rx.receive(build(96, 2, 160, 2, be), A, 0.0)
    assert rx.stats().ssrc_changes == 1
    assert rx.receive(build(96, 3, 0, 2, be[:-1]), A, 0.0) is None  # odd: not whole samples


def test_a_key_press_gives_one_digit_and_bad_event_payloads_are_counted():
    rx = RtpReceiver(payload_type=0, clock_rate=8000, l16=False, dtmf_payload_type=101)
    packets = [build(101, 10 + k, 8000, 7, encode_event(7, end=k >= 4, duration=160 * min(k + 1, 5)),
                     marker=k == 0) for k in range(7)]
    out = [rx.receive(p, A, 0.0) for p in packets]
    assert out == ["7"] + [None] * 6
    assert rx.receive(build(101, 20, 9000, 7, b"\x01"), A, 0.0) is None
    s = rx.stats()
    assert (s.telephone_event_packets, s.dtmf_digits, s.dropped_bad_telephone_event_packets) == (7, 1, 1)


def playback(**kw):
    args = dict(payload_type=0, clock_rate=8000, l16=False, ssrc=0xCAFE,
                first_sequence=65534, first_timestamp=2**32 - 160, dtmf_payload_type=101)
    args.update(kw)
    return RtpPlayback(**args)


def test_playback_sequence_timestamp_marker_and_ssrc():
    pb = playback()
    frame = b"\x55" * 160
    sent = [parse(p) for t in (0, 1, 2, 10, 11) for p in pb.tick(t, frame)]
    assert [p.sequence_number for p in sent] == [65534, 65535, 0, 1, 2]   # wraps
    assert [p.timestamp for p in sent] == [(2**32 - 160 + 160 * t) % 2**32 for t in (0, 1, 2, 10, 11)]
    assert [p.marker for p in sent] == [True, False, False, True, False]  # first; after a gap
    assert {p.ssrc for p in sent} == {0xCAFE} and {p.payload for p in sent} == {frame}
    with pytest.raises(ValueError, match="does not follow"):
        pb.tick(11, frame)


def test_playback_l16_goes_out_big_endian():
    pb = playback(payload_type=96, clock_rate=16000, l16=True)
    frame = bytes(range(256)) * 2 + bytes(128)  # 640 bytes, little-endian samples
    (packet,) = pb.tick(0, frame)
    assert parse(packet).payload == l16_swap(frame)


def test_dtmf_replaces_the_audio_and_the_next_audio_starts_a_talkspurt():
    pb = playback()
    frame = b"\x55" * 160
    pb.tick(0, frame)
    pb.add_digits("4")
    sent = [(t, parse(p)) for t in range(1, 10) for p in pb.tick(t, frame)]
    events = [(t, p) for t, p in sent if p.payload_type == 101]
    audio = [(t, p) for t, p in sent if p.payload_type == 0]
    assert [t for t, _ in events] == [1, 2, 3, 4, 5, 6, 7]
    assert {p.timestamp for _, p in events} == {pb.timestamp(1)}
    assert [t for t, _ in audio] == [6, 7, 8, 9]          # muted while the tone lasts
    assert [p.marker for _, p in audio] == [True, False, False, False]
    seqs = [p.sequence_number for _, p in sent]
    assert seqs == [(65535 + i) % 65536 for i in range(len(sent))]  # one counter for both


def test_digits_are_refused_without_an_event_payload_type():
    with pytest.raises(ValueError, match="no telephone-event"):
        playback(dtmf_payload_type=None).add_digits("1")

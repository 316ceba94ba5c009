"""RFC 4733 telephone-events: one digit per key press whatever packets of it arrive, and
the packets that play digits (timestamps, durations, end bit three times, marker)."""

import itertools

import numpy as np
import pytest

from mediacore.ingress.rtp import RtpError
from mediacore.ingress.telephone_event import (DtmfSchedule, KeyPressDetector, TelephoneEvent,
                                               dtmf_tone, encode_event, parse_event)


def press(ts: int, event: int, *, frames: int = 5, step: int = 160):
    """The packets of one key press as a sender emits them: updates, then the end x3."""
    packets = [TelephoneEvent(event, False, 10, step * (k + 1)) for k in range(frames - 1)]
    packets += [TelephoneEvent(event, True, 10, step * frames)] * 3
    return [(ts, p) for p in packets]


def digits_of(detector, packets, ssrc=1):
    return [d for ts, p in packets if (d := detector.packet(ssrc, ts, p)) is not None]


def test_payload_round_trip_and_errors():
    data = encode_event(11, end=True, duration=800, volume=10)
    assert data == bytes([11, 0x80 | 10, 0x03, 0x20])
    event = parse_event(data)
    assert event == TelephoneEvent(11, True, 10, 800) and event.digit == "#"
    assert parse_event(encode_event(16, end=False, duration=1)).digit is None  # flash
    with pytest.raises(RtpError, match="multiple of 4"):
        parse_event(b"\x01\x02\x03")


def test_one_digit_per_press_with_its_three_end_packets():
    d = KeyPressDetector()
    assert digits_of(d, press(1000, 5)) == ["5"]


def test_the_same_key_twice_is_two_presses():
    d = KeyPressDetector()
    assert digits_of(d, press(1000, 1) + press(3000, 1)) == ["1", "1"]


def test_reordered_duplicated_and_start_lost_packets_still_give_one_digit():
    d = KeyPressDetector()
    packets = press(1000, 9)
    shuffled = [packets[6], packets[2], packets[2], packets[5], packets[3], packets[4]]
    assert digits_of(d, shuffled) == ["9"]          # the first packets were lost
    assert digits_of(d, packets) == []               # late copies of the same press


def test_segments_of_one_long_press_are_one_digit():
    d = KeyPressDetector()
    first = [(0, TelephoneEvent(0, False, 10, 0xFFFF))]
    second = [(0xFFFF, TelephoneEvent(0, False, 10, 160)), (0xFFFF, TelephoneEvent(0, True, 10, 320))]
    assert digits_of(d, first + second) == ["0"]
    # a new press right after an ended event with a following timestamp is a new digit
    assert digits_of(d, press(0xFFFF + 320, 0)) == ["0"]


def test_ssrcs_are_told_apart():
    d = KeyPressDetector()
    assert [d.packet(1, 100, TelephoneEvent(3, False, 10, 160)),
            d.packet(2, 100, TelephoneEvent(3, False, 10, 160))] == ["3", "3"]


def test_schedule_plays_each_digit_as_rfc_4733_wants():
    s = DtmfSchedule(8000)
    s.add("1#")
    ticks = []
    for tick in itertools.count(10):
        if not s.busy:
            break
        event, muted = s.tick(tick)
        ticks.append((tick, event, muted))
    sent = [(t, e) for t, e, _ in ticks if e is not None]
    parsed = [(t, e.start_tick, e.marker, parse_event(e.payload)) for t, e in sent]
    # digit 1: ticks 10..16 (5 tone packets, the end sent 3 times), digit #: from tick 20
    assert [t for t, *_ in parsed] == [10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26]
    one, pound = parsed[:7], parsed[7:]
    for packets, code, start in ((one, 1, 10), (pound, 11, 20)):
        assert {p[1] for p in packets} == {start}  # the event's timestamp is its start
        assert [p[2] for p in packets] == [True] + [False] * 6
        assert [p[3].event for p in packets] == [code] * 7
        assert [p[3].duration for p in packets] == [160, 320, 480, 640, 800, 800, 800]
        assert [p[3].end for p in packets] == [False] * 4 + [True] * 3
    muted = [t for t, _, m in ticks if m]
    assert muted == [10, 11, 12, 13, 14, 20, 21, 22, 23, 24]  # the tone replaces the audio
    assert s.digits_sent == 2


def test_schedule_refuses_non_digits_and_queues_nothing():
    s = DtmfSchedule(8000)
    with pytest.raises(ValueError, match="'x' is not a DTMF digit"):
        s.add("12x")
    assert not s.busy


@pytest.mark.parametrize("rate", [8000, 16000])
def test_in_band_tones_carry_the_two_q23_frequencies(rate):
    tone = np.frombuffer(dtmf_tone("6", rate), dtype="<i2").astype(float)
    assert len(tone) == rate // 10
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    freqs = np.fft.rfftfreq(len(tone), 1 / rate)
    top_two = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top_two[0] == pytest.approx(770, abs=10) and top_two[1] == pytest.approx(1477, abs=10)

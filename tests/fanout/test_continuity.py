"""The sink's per-connection checks, fed crafted messages: start first, sequenceNumber from 1
without gaps, chunk from 1 per track; the first broken rule is reported, media still counted."""

import json

import pytest

from benches.fanout.continuity import ForkCheck
from mediacore.wire import make_profile


def start(seq=1):
    return json.dumps({"event": "start", "sequenceNumber": seq, "start": {}})


def media(seq, chunk, track="inbound"):
    return json.dumps({"event": "media", "sequenceNumber": seq,
                       "media": {"track": track, "chunk": chunk, "payload": ""}})


def feed(*messages):
    check = ForkCheck(7)
    for m in messages:
        check.message(m.encode())
    return check


def test_the_profiles_own_messages_pass():
    p = make_profile("plivo", stream_id="s", call_id="c", account_id="a",
                     tracks=("inbound", "outbound"))
    check = ForkCheck(0)
    check.message(p.start(1_000))
    for n in range(30):
        check.message(p.media("inbound", b"\xff" * 160, 1_000 + 20 * n))
        check.message(p.media("outbound", b"\xff" * 160, 1_000 + 20 * n))
    check.message(p.stop("completed"))
    assert check.summary() == {"fork": 0, "media": 60, "messages": 62, "started": True,
                               "gap": None}


@pytest.mark.parametrize("messages, gap", [
    ([media(1, 1)], "message 1: first message is 'media', not 'start'"),
    ([start(2)], "message 1: sequenceNumber 2, expected 1"),
    ([start(), media(2, 1), media(4, 2)], "message 3: sequenceNumber 4, expected 3"),
    ([start(), media(2, 1), media(3, 3)], "message 3: inbound chunk 3, expected 2"),
    ([start(), media(2, 2)], "message 2: inbound chunk 2, expected 1"),
    ([start(), media(2, 1), media(3, 1, "outbound"), media(4, 2, "outbound")], None),
    ([start(), media(2, 1), media(3, 2, "outbound")], "message 3: outbound chunk 2, expected 1"),
    ([start(), "{not json"], "message 2: not a JSON object with event and sequenceNumber"),
    ([start(), '{"event":"media"}'], "message 2: not a JSON object with event and sequenceNumber"),
    ([start(), '{"event":"media","sequenceNumber":2}'],
     "message 2: media without media.track and media.chunk"),
    ([start(), media("2", 1)], "message 2: sequenceNumber '2', expected 2"),
])
def test_broken_numbering_is_reported(messages, gap):
    assert feed(*messages).gap == gap


def test_only_the_first_gap_is_kept_and_numbering_resynchronises():
    check = feed(start(), media(2, 1), media(5, 2), media(6, 3), media(8, 4))
    assert check.gap == "message 3: sequenceNumber 5, expected 3"
    assert check.next_sequence == 9


def test_media_is_counted_even_after_a_gap():
    assert feed(start(), media(3, 1), media(4, 2), media(5, 3)).media == 3


def test_nothing_received_is_not_started():
    assert ForkCheck(3).summary() == {"fork": 3, "media": 0, "messages": 0, "started": False,
                                      "gap": None}

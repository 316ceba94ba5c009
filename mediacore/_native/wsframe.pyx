# distutils: sources = mediacore/_native/mc_wsframe.c mediacore/_native/mc_base64.c
"""Masked client WebSocket text frames, and the one-call media frame encoder.

`MediaFrameEncoder` holds the per-stream counters of a wire profile (the next sequence
number, the next chunk per track) and one JSON template per track, prepared by the Python
profile (mediacore.wire), so frames written here and control messages encoded in Python
share one numbering. `media_frame_into` writes a complete frame — JSON, base64 payload,
RFC 6455 header and mask — into a caller-provided buffer. Mask keys come from the OS CSPRNG,
drawn 4 KiB at a time (mc_wsframe.c). All entry points run with the GIL held.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint64_t

from mediacore._native._buffers cimport (PyBuffer_Release, check_disjoint, check_room,
                                         get_bytes, get_dst)

cdef enum:
    _MAX_DIGITS = 20  # decimal digits of 2**64 - 1
    # Far above one 20 ms frame (640 bytes) and far below any size arithmetic could overflow.
    # C constants: a module global would cost a dict look-up and an int object per frame.
    _MAX_PAYLOAD = 1 << 24
    _MAX_LITERAL = 1 << 16

MAX_PAYLOAD_BYTES = _MAX_PAYLOAD
MAX_LITERAL_BYTES = _MAX_LITERAL

import os

cdef mc_mask_pool _pool
_pool.pos = MC_MASK_POOL_BYTES  # empty: the first key draws the first block


def _empty_mask_pool():
    """Forget the keys drawn so far. Run in a forked child (below): otherwise parent and
    child would hand out the same keys from the copied pool."""
    _pool.pos = MC_MASK_POOL_BYTES


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_empty_mask_pool)


cdef inline int _take_key(uint8_t *key) except -1:
    cdef int err = mc_mask_pool_take(&_pool, key)
    if err:
        raise OSError(err, "cannot draw WebSocket mask keys from the OS random source")
    return 0


cdef inline int _check_track(int track) except -1:
    if track != 0 and track != 1:
        raise ValueError(f"track must be 0 (inbound) or 1 (outbound), not {track}")
    return 0


cdef inline int _check_payload(Py_ssize_t n) except -1:
    if n > _MAX_PAYLOAD:
        raise ValueError(f"media payload of {n} bytes is over the limit of "
                         f"{_MAX_PAYLOAD} bytes")
    return 0


cdef inline int _check_offset(Py_ssize_t offset, Py_ssize_t size) except -1:
    if offset < 0 or offset > size:
        raise ValueError(f"offset {offset} is outside the destination of {size} bytes")
    return 0


def text_frame_size(Py_ssize_t n):
    """Bytes of a masked text frame carrying `n` bytes of text."""
    if n < 0:
        raise ValueError(f"length must not be negative, not {n}")
    return <Py_ssize_t>mc_ws_header_len(n) + n


def text_frame(data):
    """A complete masked client text frame (FIN set) carrying `data` (str, or UTF-8 bytes)."""
    cdef Py_buffer s
    cdef uint8_t key[4]
    if isinstance(data, str):
        data = (<str>data).encode("utf-8")
    get_bytes(data, &s)
    try:
        _take_key(key)
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>mc_ws_header_len(s.len) + s.len)
        mc_ws_text_frame_write(<uint8_t*>PyBytes_AS_STRING(out), <const uint8_t*>s.buf,
                               s.len, key)
        return out
    finally:
        PyBuffer_Release(&s)


def text_frame_into(dst, data, Py_ssize_t offset=0):
    """Write a masked text frame carrying `data` (UTF-8 bytes) into `dst` at `offset`;
    returns the bytes written."""
    cdef Py_buffer s, d
    cdef uint8_t key[4]
    cdef Py_ssize_t need
    get_bytes(data, &s)
    try:
        get_dst(dst, &d)
        try:
            _check_offset(offset, d.len)
            need = <Py_ssize_t>mc_ws_header_len(s.len) + s.len
            check_room(d.len - offset, need)
            check_disjoint(&s, &d)
            _take_key(key)
            return <Py_ssize_t>mc_ws_text_frame_write(<uint8_t*>d.buf + offset,
                                                      <const uint8_t*>s.buf, s.len, key)
        finally:
            PyBuffer_Release(&d)
    finally:
        PyBuffer_Release(&s)


cdef class MediaFrameEncoder:
    """Per-stream counters and media templates; writes media messages as masked frames.

    Tracks are 0 (inbound) and 1 (outbound). Sequence numbers start at 1 and are shared by
    every message of the stream (`next_sequence()` hands one to a control message); chunks
    count per track from 1. A frame's timestamp field is `timestamp_ms - timestamp_origin_ms`
    (0 for plivo's epoch milliseconds, the stream start for twilio). Counters advance only
    when a frame is written in full.
    """

    def __cinit__(self):
        self._seq = 1
        self._chunk[0] = 1
        self._chunk[1] = 1
        self._literals = [None, None]

    def set_template(self, int track, tuple literals, bytes order):
        """Install a track's template: five JSON literals around the numbers and the payload
        (see mc_wsframe.h), and `order`, three of b"s" (sequence number), b"c" (chunk) and
        b"t" (timestamp) naming the numbers between literals 0..3."""
        cdef int i
        cdef bytes lit, block
        cdef Py_ssize_t offset
        _check_track(track)
        if len(literals) != MC_MEDIA_LITERALS:
            raise ValueError(f"a media template has {MC_MEDIA_LITERALS} literals, "
                             f"not {len(literals)}")
        if len(order) != MC_FIELDS or sorted(order) != sorted(b"sct"):
            raise ValueError(f"order must name s, c and t once each, not {order!r}")
        for lit in literals:
            if lit is None or PyBytes_GET_SIZE(lit) > _MAX_LITERAL:
                raise ValueError(f"template literals must be bytes of at most "
                                 f"{_MAX_LITERAL} bytes")
        # one contiguous block per track: a fork's template is then a few adjacent cache
        # lines, which the fan-out kernel prefetches in one go (fanout.pyx, _warm)
        block = b"".join(literals)
        self._literals[track] = block
        offset = 0
        for i in range(MC_MEDIA_LITERALS):
            lit = literals[i]
            self._tpl[track].lit[i] = <const uint8_t*>PyBytes_AS_STRING(block) + offset
            self._tpl[track].lit_len[i] = PyBytes_GET_SIZE(lit)
            offset += PyBytes_GET_SIZE(lit)
        for i in range(MC_FIELDS):
            self._tpl[track].order[i] = {ord("s"): MC_FIELD_SEQ, ord("c"): MC_FIELD_CHUNK,
                                         ord("t"): MC_FIELD_TS}[order[i]]
        self._ready[track] = True

    @property
    def sequence(self):
        """The sequence number the next message will carry."""
        return self._seq

    def next_sequence(self):
        """Take the next sequence number (for a message encoded elsewhere)."""
        self._seq += 1
        return self._seq - 1

    def advance_sequence(self, uint64_t count):
        """Skip `count` sequence numbers (tests use it to reach many-digit numbers; the
        engine never needs it)."""
        if count > (<uint64_t>1 << 62) - self._seq:
            raise ValueError(f"cannot advance the sequence number {self._seq} by {count}")
        self._seq += count

    def chunk(self, int track):
        """The chunk number the next media message of `track` will carry."""
        _check_track(track)
        return self._chunk[track]

    def next_chunk(self, int track):
        """Take the next chunk number of `track` (for a media message encoded elsewhere)."""
        _check_track(track)
        self._chunk[track] += 1
        return self._chunk[track] - 1

    def rewind_chunk(self, int track, uint64_t chunk):
        """Make `chunk` (1 <= chunk <= the next chunk) the next chunk number of `track` again:
        frames that were encoded but never fully written are encoded again after a reconnect
        with the numbers they had."""
        _check_track(track)
        if chunk < 1 or chunk > self._chunk[track]:
            raise ValueError(f"cannot rewind track {track} from chunk {self._chunk[track]} "
                             f"to {chunk}")
        self._chunk[track] = chunk

    @property
    def timestamp_origin_ms(self):
        return self._origin_ms

    @timestamp_origin_ms.setter
    def timestamp_origin_ms(self, int64_t value):
        self._origin_ms = value

    cdef int _fields(self, int track, int64_t timestamp_ms, uint64_t *v) except -1:
        _check_track(track)
        if not self._ready[track]:
            raise ValueError(f"no media template set for track {track}")
        if timestamp_ms < self._origin_ms:
            raise ValueError(f"timestamp {timestamp_ms} ms is before the stream's origin "
                             f"{self._origin_ms} ms")
        v[MC_FIELD_SEQ] = self._seq
        v[MC_FIELD_CHUNK] = self._chunk[track]
        v[MC_FIELD_TS] = <uint64_t>(timestamp_ms - self._origin_ms)
        return 0

    def frame_size(self, int track, int64_t timestamp_ms, Py_ssize_t payload_bytes):
        """Exact bytes of the next media frame of `track` for this timestamp and payload."""
        cdef uint64_t v[3]
        cdef size_t json_len
        if payload_bytes < 0:
            raise ValueError(f"payload length must not be negative, not {payload_bytes}")
        _check_payload(payload_bytes)
        self._fields(track, timestamp_ms, v)
        json_len = mc_media_json_len(&self._tpl[track], v, payload_bytes)
        return <Py_ssize_t>(mc_ws_header_len(json_len) + json_len)

    def max_frame_size(self, Py_ssize_t payload_bytes):
        """An upper bound of one media frame's bytes for any counters and timestamp."""
        cdef size_t most = 0, n
        cdef int t, i
        if payload_bytes < 0:
            raise ValueError(f"payload length must not be negative, not {payload_bytes}")
        _check_payload(payload_bytes)
        for t in range(2):
            if self._ready[t]:
                n = mc_b64_len(payload_bytes) + MC_FIELDS * _MAX_DIGITS
                for i in range(MC_MEDIA_LITERALS):
                    n += self._tpl[t].lit_len[i]
                most = max(most, n)
        return <Py_ssize_t>(MC_WS_MAX_HEADER + most)

    cdef Py_ssize_t _write(self, Py_buffer *d, Py_ssize_t offset, int track,
                           int64_t timestamp_ms, Py_buffer *s) except -1:
        """Check room, write one frame at d + offset, advance the counters."""
        cdef uint64_t v[3]
        cdef uint8_t key[4]
        cdef size_t json_len, written
        _check_payload(s.len)
        self._fields(track, timestamp_ms, v)
        json_len = mc_media_json_len(&self._tpl[track], v, s.len)
        check_room(d.len - offset, <Py_ssize_t>(mc_ws_header_len(json_len) + json_len))
        check_disjoint(s, d)
        _take_key(key)
        written = mc_media_frame_write(<uint8_t*>d.buf + offset, &self._tpl[track], v,
                                       <const uint8_t*>s.buf, s.len, json_len, key)
        self._seq += 1
        self._chunk[track] += 1
        return <Py_ssize_t>written

    def media_frame_into(self, dst, int track, int64_t timestamp_ms, payload,
                         Py_ssize_t offset=0):
        """Write the next media message of `track` as one masked text frame into the
        writable buffer `dst` at `offset`; returns the bytes written. Raises ValueError
        (nothing written, counters unchanged) when `dst` has too little room."""
        cdef Py_buffer s, d
        get_bytes(payload, &s)
        try:
            get_dst(dst, &d)
            try:
                _check_offset(offset, d.len)
                return self._write(&d, offset, track, timestamp_ms, &s)
            finally:
                PyBuffer_Release(&d)
        finally:
            PyBuffer_Release(&s)

    cdef Py_ssize_t _tick(self, Py_buffer *d, Py_ssize_t offset, int64_t timestamp_ms,
                          Py_buffer *si, Py_buffer *so) except -1:
        """Both tracks of one tick at d + offset (room for both checked before either is
        written, so a refusal leaves the counters as they were)."""
        cdef Py_ssize_t n
        cdef uint64_t v[3]
        cdef size_t len_in, len_out
        _check_payload(si.len)
        _check_payload(so.len)
        self._fields(0, timestamp_ms, v)
        len_in = mc_media_json_len(&self._tpl[0], v, si.len)
        self._fields(1, timestamp_ms, v)
        v[MC_FIELD_SEQ] += 1
        len_out = mc_media_json_len(&self._tpl[1], v, so.len)
        check_room(d.len - offset, <Py_ssize_t>(mc_ws_header_len(len_in) + len_in
                                                + mc_ws_header_len(len_out) + len_out))
        n = self._write(d, offset, 0, timestamp_ms, si)
        return n + self._write(d, offset + n, 1, timestamp_ms, so)

    def tick_into(self, dst, int64_t timestamp_ms, inbound, outbound, Py_ssize_t offset=0):
        """Write one tick of both tracks back to back into `dst` at `offset`: the inbound
        frame, then the outbound frame (SPEC §3.1), each with its own sequence number and
        chunk. Returns the bytes written. Room for both is checked before either is written."""
        cdef Py_buffer si, so, d
        get_bytes(inbound, &si)
        try:
            get_bytes(outbound, &so)
            try:
                get_dst(dst, &d)
                try:
                    _check_offset(offset, d.len)
                    return self._tick(&d, offset, timestamp_ms, &si, &so)
                finally:
                    PyBuffer_Release(&d)
            finally:
                PyBuffer_Release(&so)
        finally:
            PyBuffer_Release(&si)

    def __repr__(self):
        return (f"MediaFrameEncoder(sequence={self._seq}, chunks=({self._chunk[0]}, "
                f"{self._chunk[1]}), timestamp_origin_ms={self._origin_ms})")

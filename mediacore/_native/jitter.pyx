# distutils: sources = mediacore/_native/mc_jitter.c mediacore/_native/mc_g711.c
"""Adaptive jitter buffer over the C core in mc_jitter.c (see mediacore.jitter)."""

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.math cimport isfinite
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from mediacore._native._buffers cimport PyBuffer_Release, get_pcm

# Set by mediacore.jitter through _register(): PutResult and FrameKind members by value, and
# the JitterStats dataclass. The face module owns the types; this module only hands them out.
cdef tuple _PUT_RESULTS = None
cdef tuple _FRAME_KINDS = None
cdef object _STATS = None


def _register(put_results, frame_kinds, stats_type):
    global _PUT_RESULTS, _FRAME_KINDS, _STATS
    _PUT_RESULTS = tuple(put_results)
    _FRAME_KINDS = tuple(frame_kinds)
    _STATS = stats_type


cdef inline int _check_delay(str name, double value) except -1:
    if not isfinite(value) or value < 0 or value > 10000:
        raise ValueError(f"{name} must be between 0 and 10000 ms, not {value}")
    return 0


cdef class JitterBuffer:
    """Turn RTP packets that arrive late, early, twice, out of order or never into one clean
    frame per get().

    `JitterBuffer(clock_rate, frame_samples, *, min_delay_ms=20, max_delay_ms=400,
    mode="adaptive", initial_delay_ms=None, codec="l16")`

    - `clock_rate`: RTP clock in Hz (8000, 16000...); `frame_samples`: samples per frame
      (160 for 20 ms at 8 kHz), even.
    - `mode`: "adaptive" (the delay follows the jitter between `min_delay_ms` and
      `max_delay_ms`, starting from `initial_delay_ms`) or "fixed" (`initial_delay_ms` above
      the fastest recent transit, following clock drift only). `initial_delay_ms` defaults
      to 60 ms clamped to the bounds.
    - `codec`: "l16" (16-bit samples in host byte order, 2 bytes each) or "mulaw" (1 byte).

    `put(seq, timestamp, payload, arrival_ms, ssrc=None) -> PutResult`: one RTP packet.
    `payload` is any buffer of 10..60 ms of audio in whole halves of a frame (for 20 ms frames:
    10, 20, 30, 40, 50 or 60 ms); it is split into frames and copied. Anything else raises
    ValueError, as do seq outside 0..65535, timestamp outside 0..2**32-1, a non-finite
    arrival_ms. Pass `ssrc` to have a change of SSRC restart the stream (RESET); without it,
    restarts are detected from timestamp jumps only.

    `get(now_ms) -> (FrameKind, memoryview)`: call once per frame time. The frame is a
    read-only view of `frame_bytes` bytes owned by the buffer; it stays valid but is
    overwritten by the next get(): copy it (bytes(view)) to keep it.

    `stats() -> JitterStats`; `reset()` forgets the stream (statistics are kept).
    The buffer never reads a clock: all times are the caller's, in milliseconds.
    """

    def __cinit__(self, int clock_rate, int frame_samples, *, double min_delay_ms=20.0,
                  double max_delay_ms=400.0, mode="adaptive", initial_delay_ms=None,
                  codec="l16"):
        cdef mc_jb_config cfg
        cdef double initial
        if _PUT_RESULTS is None:
            import mediacore.jitter  # registers the enums and the stats type
        if clock_rate < 1000 or clock_rate > 192000:
            raise ValueError(f"clock_rate must be 1000..192000 Hz, not {clock_rate}")
        if frame_samples < 2 or frame_samples % 2:
            raise ValueError(f"frame_samples must be even and positive, not {frame_samples}")
        frame_ms = 1000.0 * frame_samples / clock_rate
        if frame_ms < 2.0 or frame_ms > 120.0:
            raise ValueError(f"a frame of {frame_samples} samples at {clock_rate} Hz lasts "
                             f"{frame_ms:g} ms; frames must last 2..120 ms")
        if mode == "adaptive":
            cfg.mode = MC_JB_MODE_ADAPTIVE
        elif mode == "fixed":
            cfg.mode = MC_JB_MODE_FIXED
        else:
            raise ValueError(f"mode must be 'adaptive' or 'fixed', not {mode!r}")
        if codec == "l16":
            cfg.sample_bytes = 2
        elif codec in ("mulaw", "ulaw", "pcmu"):
            cfg.sample_bytes = 1
        else:
            raise ValueError(f"codec must be 'l16' or 'mulaw', not {codec!r}")
        _check_delay("min_delay_ms", min_delay_ms)
        _check_delay("max_delay_ms", max_delay_ms)
        if min_delay_ms > max_delay_ms:
            raise ValueError(f"min_delay_ms ({min_delay_ms}) is above max_delay_ms "
                             f"({max_delay_ms})")
        if initial_delay_ms is None:
            initial = min(max(min_delay_ms, 60.0), max_delay_ms)
        else:
            initial = initial_delay_ms
            _check_delay("initial_delay_ms", initial)
            if not min_delay_ms <= initial <= max_delay_ms:
                raise ValueError(f"initial_delay_ms ({initial}) must lie between min_delay_ms "
                                 f"({min_delay_ms}) and max_delay_ms ({max_delay_ms})")
        cfg.clock_rate = clock_rate
        cfg.frame_samples = frame_samples
        cfg.min_delay_ms = min_delay_ms
        cfg.max_delay_ms = max_delay_ms
        cfg.initial_delay_ms = initial
        self._jb = mc_jb_new(&cfg)
        if self._jb == NULL:
            raise MemoryError()
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.frame_bytes = <Py_ssize_t>mc_jb_frame_bytes(self._jb)
        self._granule_bytes = <Py_ssize_t>mc_jb_granule_bytes(self._jb)
        self._max_granules = <Py_ssize_t>mc_jb_max_granules(self._jb)
        self.mode = mode
        self.codec = codec
        self.min_delay_ms = min_delay_ms
        self.max_delay_ms = max_delay_ms
        self.initial_delay_ms = initial
        # One output frame, lent as the same read-only view by every get(): no allocation
        # per frame. The bytearray is never resized, so its storage never moves.
        self._out = bytearray(self.frame_bytes)
        self._outp = <uint8_t*>PyByteArray_AS_STRING(self._out)
        view = memoryview(self._out).toreadonly()
        self._results = _PUT_RESULTS
        self._frames = tuple((kind, view) for kind in _FRAME_KINDS)

    def __dealloc__(self):
        mc_jb_free(self._jb)

    cdef str _payload_error(self, Py_ssize_t n):
        cdef double granule_ms = 500.0 * self.frame_samples / self.clock_rate
        return (f"payload of {n} bytes is not a whole number of {granule_ms:g} ms "
                f"({self._granule_bytes} bytes) from {granule_ms:g} to "
                f"{granule_ms * self._max_granules:g} ms")

    cdef int _put(self, long long seq, long long timestamp, const uint8_t* data, Py_ssize_t n,
                  double arrival_ms, int has_ssrc, uint32_t ssrc) except -2:
        if n == 0 or n % self._granule_bytes or n // self._granule_bytes > self._max_granules:
            raise ValueError(self._payload_error(n))
        rc = mc_jb_put(self._jb, <uint16_t>seq, <uint32_t>timestamp, data, <size_t>n,
                       arrival_ms, has_ssrc, ssrc)
        if rc < 0:  # unreachable: the check above refuses what the core refuses
            raise ValueError(self._payload_error(n))
        return rc

    def put(self, long long seq, long long timestamp, payload, double arrival_ms, ssrc=None):
        cdef Py_buffer buf
        cdef int rc, has_ssrc = 0
        cdef uint32_t ssrc_value = 0
        if <unsigned long long>seq > 0xFFFF:
            raise ValueError(f"seq must be 0..65535, not {seq}")
        if <unsigned long long>timestamp > 0xFFFFFFFF:
            raise ValueError(f"timestamp must be 0..2**32-1, not {timestamp}")
        if not isfinite(arrival_ms):
            raise ValueError(f"arrival_ms must be finite, not {arrival_ms}")
        if ssrc is not None:
            if not 0 <= ssrc <= 0xFFFFFFFF:
                raise ValueError(f"ssrc must be 0..2**32-1, not {ssrc}")
            has_ssrc = 1
            ssrc_value = ssrc
        if type(payload) is bytes:  # the common case: no buffer protocol round trip
            rc = self._put(seq, timestamp, <const uint8_t*>PyBytes_AS_STRING(payload),
                           PyBytes_GET_SIZE(payload), arrival_ms, has_ssrc, ssrc_value)
        else:
            get_pcm(payload, &buf, "payload")
            try:
                rc = self._put(seq, timestamp, <const uint8_t*>buf.buf, buf.len, arrival_ms,
                               has_ssrc, ssrc_value)
            finally:
                PyBuffer_Release(&buf)
        return self._results[rc]

    def get(self, double now_ms):
        cdef int kind
        if not isfinite(now_ms):
            raise ValueError(f"now_ms must be finite, not {now_ms}")
        kind = mc_jb_get(self._jb, now_ms, self._outp)
        return self._frames[kind]

    def reset(self):
        mc_jb_reset(self._jb)

    def stats(self):
        cdef mc_jb_stats st
        mc_jb_get_stats(self._jb, &st)
        return _STATS(
            current_delay_ms=st.delay_ms_current,
            min_delay_ms=st.delay_ms_min,
            max_delay_ms=st.delay_ms_max,
            mean_delay_ms=st.delay_ms_sum / st.frames_normal if st.frames_normal else 0.0,
            target_delay_ms=st.target_delay_ms,
            buffered_frames=st.frames_buffered,
            packets=st.packets,
            frames_normal=st.frames_normal,
            frames_concealed=st.frames_concealed,
            frames_inserted=st.frames_inserted,
            frames_prefetch=st.frames_prefetch,
            frames_empty=st.frames_empty,
            frames_late=st.frames_late,
            frames_duplicate=st.frames_duplicate,
            frames_discarded=st.frames_discarded,
            underruns=st.underruns,
            resets=st.resets,
        )

    def __repr__(self):
        return (f"JitterBuffer({self.clock_rate}, {self.frame_samples}, "
                f"mode={str(getattr(self.mode, 'value', self.mode))!r}, "
                f"codec={str(getattr(self.codec, 'value', self.codec))!r})")

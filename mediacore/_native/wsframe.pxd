from libc.stdint cimport int64_t, uint8_t, uint64_t

cdef extern from "mc_wsframe.h" nogil:
    enum:
        MC_WS_MAX_HEADER
        MC_MASK_POOL_BYTES
        MC_FIELD_SEQ
        MC_FIELD_CHUNK
        MC_FIELD_TS
        MC_FIELDS
        MC_MEDIA_LITERALS
    ctypedef struct mc_mask_pool:
        uint8_t bytes[4096]
        size_t pos
    ctypedef struct mc_media_template:
        const uint8_t *lit[5]
        size_t lit_len[5]
        uint8_t order[3]
    int mc_mask_pool_take(mc_mask_pool *pool, uint8_t *key)
    size_t mc_ws_header_len(uint64_t n)
    size_t mc_ws_write_header(uint8_t *dst, uint64_t n, const uint8_t *key)
    void mc_ws_mask(uint8_t *buf, size_t n, const uint8_t *key)
    size_t mc_ws_text_frame_write(uint8_t *dst, const uint8_t *data, size_t n, const uint8_t *key)
    size_t mc_dec_len(uint64_t v)
    size_t mc_media_json_len(const mc_media_template *t, const uint64_t *v, size_t n)
    size_t mc_media_frame_write(uint8_t *dst, const mc_media_template *t, const uint64_t *v,
                                const uint8_t *payload, size_t n, size_t json_len,
                                const uint8_t *key)

cdef extern from "mc_base64.h" nogil:
    size_t mc_b64_len(size_t n)
    size_t mc_b64_encode(char *dst, const uint8_t *src, size_t n)

cdef class MediaFrameEncoder:
    cdef mc_media_template _tpl[2]
    cdef object _literals            # per track: the bytes (literals back to back) _tpl points into
    cdef bint _ready[2]
    cdef uint64_t _seq               # next sequence number
    cdef uint64_t _chunk[2]          # next chunk number per track
    cdef int64_t _origin_ms          # subtracted from every timestamp
    cdef int _fields(self, int track, int64_t timestamp_ms, uint64_t *v) except -1
    cdef Py_ssize_t _write(self, Py_buffer *d, Py_ssize_t offset, int track,
                           int64_t timestamp_ms, Py_buffer *s) except -1
    cdef Py_ssize_t _tick(self, Py_buffer *d, Py_ssize_t offset, int64_t timestamp_ms,
                          Py_buffer *si, Py_buffer *so) except -1

cdef class _Block:
    cdef char* data
    cdef Py_ssize_t capacity
    cdef Py_ssize_t exports
    cdef Py_ssize_t view_offset
    cdef Py_ssize_t view_length

cdef class Framer:
    cdef readonly Py_ssize_t frame_bytes
    cdef _Block _block
    cdef Py_ssize_t _read
    cdef Py_ssize_t _write
    cdef int _reserve(self, Py_ssize_t n) except -1
    cdef object _take(self)

from libc.stdint cimport int64_t

# fan_out without the Python call (the call step, calltick.pyx, runs it per call group)
cdef object fan_out_c(list writers, int64_t ts_ms, object inbound, object outbound)

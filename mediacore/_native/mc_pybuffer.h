/* A Py_buffer that points at memory without owning a reference (obj = NULL makes
 * PyBuffer_Release a no-op). Only for memory kept alive by the caller for the whole call. */
#ifndef MC_PYBUFFER_H
#define MC_PYBUFFER_H
#include <Python.h>

static inline void mc_buffer_direct(Py_buffer *view, char *buf, Py_ssize_t len)
{
    view->buf = buf;
    view->len = len;
    view->obj = NULL;
    view->itemsize = 1;
    view->format = NULL;
}
#endif

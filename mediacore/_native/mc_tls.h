/* Client TLS on a non-blocking socket: the OpenSSL calls of tls.pyx, each returning a status
 * and keeping why it failed (mc_tls_io's err fields) for the Python layer to report. */
#ifndef MC_TLS_H
#define MC_TLS_H
#include <stddef.h>
#include <openssl/ssl.h>
#include "mc_tls_writer.h"

enum { MC_TLS_OK = 0, MC_TLS_WANT_READ = 1, MC_TLS_WANT_WRITE = 2, MC_TLS_CLOSED = 3,
       MC_TLS_ERROR = -1 };

typedef struct {
    mc_tls_writer writer;  /* first: a writer pointer is a pointer to its mc_tls_io */
    SSL *tls;
    /* the last failure: SSL_get_error's class, errno, OpenSSL's packed error code, and the
     * reason string of that code (copied: the queue is emptied after every call) */
    int err;
    int sys_errno;
    unsigned long code;
    char reason[256];
} mc_tls_io;

void mc_tls_init(mc_tls_io *io, SSL *s);
int mc_tls_handshake(mc_tls_io *io);
int mc_tls_write(mc_tls_io *io, const void *buf, size_t n);
int mc_tls_read(mc_tls_io *io, void *buf, size_t n, size_t *got);
int mc_tls_unexpected_eof(const mc_tls_io *io);

#endif

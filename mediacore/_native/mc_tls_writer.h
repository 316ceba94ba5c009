/* The C face a native TLS connection (tls.pyx) gives the fan-out kernel (fanout.pyx), handed
 * over in a capsule, so that the kernel writes TLS without linking or including OpenSSL.
 *
 * write(w, buf, n) offers n bytes:
 *   MC_TLS_WRITTEN      all n bytes were encrypted and handed to the socket
 *   MC_TLS_WOULD_BLOCK  the socket is full (or the TLS layer waits for the peer); OpenSSL may
 *                       have taken part of them: offer the same bytes again (more may follow)
 *   MC_TLS_FAILED       the connection is broken; its owner (tls.pyx) can say why
 * It never blocks and never touches Python objects; the caller keeps the owner alive.
 */
#ifndef MC_TLS_WRITER_H
#define MC_TLS_WRITER_H
#include <stddef.h>

#define MC_TLS_WRITER_CAPSULE "mediacore._native.tls.writer"

enum { MC_TLS_WRITTEN = 0, MC_TLS_WOULD_BLOCK = 1, MC_TLS_FAILED = -1 };

typedef struct mc_tls_writer mc_tls_writer;
struct mc_tls_writer {
    int (*write)(mc_tls_writer *w, const void *buf, size_t n);
};

#endif

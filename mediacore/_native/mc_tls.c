/* See mc_tls.h. OpenSSL's error queue is per thread and shared with CPython's own ssl module
 * in the same thread: every call here starts with it empty and leaves it empty, keeping what
 * a failure said in the mc_tls_io. */
#include "mc_tls.h"

#include <errno.h>
#include <string.h>
#include <openssl/err.h>

/* Start a call with the queue empty (SSL_get_error reads it). Peeking first spares the common
 * case, an already empty queue, ERR_clear_error's wipe of every slot: once per frame, that
 * wipe was 2.7 % of a wss fork's CPU in the fan-out benchmark's profile. */
static void start_clean(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

static int io_write(mc_tls_writer *w, const void *buf, size_t n)
{
    switch (mc_tls_write((mc_tls_io *)w, buf, n)) {
    case MC_TLS_OK:
        return MC_TLS_WRITTEN;
    case MC_TLS_WANT_READ:
    case MC_TLS_WANT_WRITE:
        return MC_TLS_WOULD_BLOCK;
    default:
        return MC_TLS_FAILED;
    }
}

void mc_tls_init(mc_tls_io *io, SSL *s)
{
    memset(io, 0, sizeof *io);
    io->writer.write = io_write;
    io->tls = s;
}

/* Classify a failed call (ret <= 0); errno is read first, before anything can change it. */
static int settle(mc_tls_io *io, int ret)
{
    int sys_errno = errno;
    int err = SSL_get_error(io->tls, ret);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        ERR_clear_error();
        return MC_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return MC_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return MC_TLS_CLOSED;
    default:
        break;
    }
    io->err = err;
    io->sys_errno = err == SSL_ERROR_SYSCALL ? sys_errno : 0;
    io->code = ERR_peek_last_error();
    io->reason[0] = '\0';
    if (io->code != 0)
        ERR_error_string_n(io->code, io->reason, sizeof io->reason);
    ERR_clear_error();
    return MC_TLS_ERROR;
}

int mc_tls_handshake(mc_tls_io *io)
{
    start_clean();
    int ret = SSL_do_handshake(io->tls);
    return ret == 1 ? MC_TLS_OK : settle(io, ret);
}

int mc_tls_write(mc_tls_io *io, const void *buf, size_t n)
{
    size_t written = 0;
    if (n == 0)
        return MC_TLS_OK;  /* SSL_write_ex refuses zero bytes */
    start_clean();
    int ret = SSL_write_ex(io->tls, buf, n, &written);
    return ret == 1 ? MC_TLS_OK : settle(io, ret);
}

int mc_tls_read(mc_tls_io *io, void *buf, size_t n, size_t *got)
{
    *got = 0;
    start_clean();
    int ret = SSL_read_ex(io->tls, buf, n, got);
    return ret == 1 ? MC_TLS_OK : settle(io, ret);
}

/* The peer closed TCP without close_notify (OpenSSL 3 reports it as
 * SSL_R_UNEXPECTED_EOF_WHILE_READING; 1.1 as SSL_ERROR_SYSCALL with errno 0). */
int mc_tls_unexpected_eof(const mc_tls_io *io)
{
    if (io->err == SSL_ERROR_SYSCALL)
        return io->sys_errno == 0 && io->code == 0;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    return io->err == SSL_ERROR_SSL
           && ERR_GET_REASON(io->code) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
    return 0;
#endif
}

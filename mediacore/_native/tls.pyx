# distutils: sources = mediacore/_native/mc_tls.c
# distutils: libraries = ssl crypto
"""Client TLS over a non-blocking socket, bound to OpenSSL directly.

Why not the stdlib: `ssl.SSLSocket.send` costs about 5 µs per media frame beyond OpenSSL's own
work here (it sets the BIO's non-blocking flags on every call, releases and retakes the GIL,
and maps errors through Python), a third of a wss fork's budget. This module holds the `SSL`
itself, so the fan-out kernel (fanout.pyx) encrypts and sends a frame with one
`SSL_write_ex`, through the `mc_tls_writer` this module hands it in a capsule.

The Python face behaves like a non-blocking `ssl.SSLSocket` and raises the `ssl` module's
exceptions (SSLWantReadError, SSLWantWriteError, SSLZeroReturnError, SSLEOFError,
SSLCertVerificationError with `verify_code`/`verify_message`, SSLError; OSError for socket
errors), so one transport (mediacore/engine/transport.py) serves both.

Security settings follow `ssl.create_default_context()`: peer certificate verified against
the system store or the given CA file, host name (or IP address) checked, TLS 1.2 at least,
no compression, no renegotiation, the stdlib's cipher list for TLS 1.2.

Ownership: the `SSL` lives as long as the `TLSConnection` (freed in `__dealloc__` only, so a
writer that still holds the connection never sees freed memory). The socket is the caller's:
`SSL_set_fd` makes a BIO that does not close it; the connection keeps the socket object alive.
Writes are never partial (SSL_MODE_ENABLE_PARTIAL_WRITE is off, as in the stdlib): after a
would-block, offer the same bytes again.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint64_t

from mediacore._native._buffers cimport PyBuffer_Release, get_bytes

import errno as errno_module
import ipaddress
import os
import ssl

cdef extern from "openssl/ssl.h" nogil:
    ctypedef struct SSL_CTX:
        pass
    ctypedef struct SSL:
        pass
    ctypedef struct SSL_METHOD:
        pass
    ctypedef struct X509_VERIFY_PARAM:
        pass
    const SSL_METHOD *TLS_client_method()
    SSL_CTX *SSL_CTX_new(const SSL_METHOD *method)
    void SSL_CTX_free(SSL_CTX *ctx)
    int SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version)
    void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, void *callback)
    int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *cafile, const char *capath)
    int SSL_CTX_set_default_verify_paths(SSL_CTX *ctx)
    int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *ciphers)
    long SSL_CTX_set_mode(SSL_CTX *ctx, long mode)
    uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options)
    SSL *SSL_new(SSL_CTX *ctx)
    void SSL_free(SSL *s)
    int SSL_set_fd(SSL *s, int fd)
    void SSL_set_connect_state(SSL *s)
    long SSL_set_tlsext_host_name(SSL *s, const char *name)
    int SSL_set1_host(SSL *s, const char *hostname)
    X509_VERIFY_PARAM *SSL_get0_param(SSL *s)
    long SSL_get_verify_result(const SSL *s)
    const char *SSL_get_version(const SSL *s)
    int SSL_is_init_finished(const SSL *s)
    enum:
        SSL_ERROR_SSL
        SSL_ERROR_SYSCALL
        SSL_VERIFY_PEER
        TLS1_2_VERSION
        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
        SSL_MODE_AUTO_RETRY
        SSL_OP_ALL
        SSL_OP_NO_COMPRESSION
        SSL_OP_NO_RENEGOTIATION

cdef extern from "openssl/x509v3.h" nogil:
    int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)
    void X509_VERIFY_PARAM_set_hostflags(X509_VERIFY_PARAM *param, unsigned int flags)
    enum:
        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS

cdef extern from "openssl/x509.h" nogil:
    const char *X509_verify_cert_error_string(long n)
    enum:
        X509_V_OK

cdef extern from "openssl/err.h" nogil:
    unsigned long ERR_peek_last_error()
    void ERR_error_string_n(unsigned long e, char *buf, size_t len)
    void ERR_clear_error()

cdef extern from "mc_tls.h" nogil:
    ctypedef struct mc_tls_writer:
        pass
    ctypedef struct mc_tls_io:
        mc_tls_writer writer
        SSL *tls
        int err
        int sys_errno
        unsigned long code
        char reason[256]
    enum:
        MC_TLS_OK
        MC_TLS_WANT_READ
        MC_TLS_WANT_WRITE
        MC_TLS_CLOSED
        MC_TLS_ERROR
    const char *MC_TLS_WRITER_CAPSULE
    void mc_tls_init(mc_tls_io *io, SSL *s)
    int mc_tls_handshake(mc_tls_io *io)
    int mc_tls_write(mc_tls_io *io, const void *buf, size_t n)
    int mc_tls_read(mc_tls_io *io, void *buf, size_t n, size_t *got)
    int mc_tls_unexpected_eof(const mc_tls_io *io)

# The stdlib's TLS 1.2 cipher list (Python 3.11 _ssl.c, PY_SSL_DEFAULT_CIPHER_STRING unset);
# TLS 1.3 suites are OpenSSL's defaults there too.
cdef const char *_CIPHERS = (b"DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:"
                             b"!aDSS:!SRP:!PSK")
DEFAULT_CIPHERS = <bytes>_CIPHERS
MAX_READ_BYTES = 1 << 20


cdef str _openssl_reason(str fallback):
    cdef char buf[256]
    cdef unsigned long code = ERR_peek_last_error()
    ERR_clear_error()
    if code == 0:
        return fallback
    ERR_error_string_n(code, buf, sizeof(buf))
    return buf.decode("utf-8", "replace")


cdef class ClientContext:
    """What every client connection of an engine shares: trust anchors and settings.
    `ca_file`: a PEM file of CA certificates to trust instead of the system store."""

    cdef SSL_CTX *_ctx
    cdef readonly object ca_file

    def __cinit__(self, ca_file=None):
        self._ctx = SSL_CTX_new(TLS_client_method())
        if self._ctx == NULL:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, _openssl_reason("cannot create a TLS context"))
        SSL_CTX_set_min_proto_version(self._ctx, TLS1_2_VERSION)
        SSL_CTX_set_options(self._ctx, SSL_OP_ALL | SSL_OP_NO_COMPRESSION
                            | SSL_OP_NO_RENEGOTIATION)
        SSL_CTX_set_mode(self._ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY)
        SSL_CTX_set_verify(self._ctx, SSL_VERIFY_PEER, NULL)
        if SSL_CTX_set_cipher_list(self._ctx, _CIPHERS) != 1:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, _openssl_reason("no usable cipher"))
        if ca_file is None:
            if SSL_CTX_set_default_verify_paths(self._ctx) != 1:
                raise ssl.SSLError(ssl.SSL_ERROR_SSL,
                                   _openssl_reason("cannot load the system CA store"))
        else:
            path = os.fsencode(ca_file)
            if not os.path.isfile(path):
                raise FileNotFoundError(errno_module.ENOENT,
                                        "CA file not found (or not a file)", ca_file)
            if SSL_CTX_load_verify_locations(self._ctx, path, NULL) != 1:
                raise ssl.SSLError(ssl.SSL_ERROR_SSL,
                                   f"cannot load CA file {os.fsdecode(path)}: "
                                   + _openssl_reason("no certificate in it"))
        self.ca_file = ca_file

    def __dealloc__(self):
        SSL_CTX_free(self._ctx)  # the connections hold their own references to it

    def connection(self, sock, str server_hostname not None):
        """A client connection over the connected non-blocking `sock`, for `server_hostname`
        (a DNS name, checked against the certificate and sent as SNI, or an IP address)."""
        return TLSConnection(self, sock, server_hostname)


cdef class TLSConnection:
    """One client TLS connection; methods behave as a non-blocking ssl.SSLSocket's."""

    cdef mc_tls_io _io
    cdef object _sock
    cdef readonly str server_hostname

    def __cinit__(self, ClientContext context not None, sock, str server_hostname not None):
        cdef SSL *s
        cdef X509_VERIFY_PARAM *param
        fd = sock.fileno()
        if fd < 0:
            raise ValueError("the socket is closed")
        if not server_hostname or "\0" in server_hostname:
            raise ValueError(f"invalid server host name {server_hostname!r}")
        s = SSL_new(context._ctx)
        if s == NULL:
            raise MemoryError(_openssl_reason("SSL_new failed"))
        mc_tls_init(&self._io, s)  # from here on, __dealloc__ frees s
        try:
            address = ipaddress.ip_address(server_hostname.strip("[]"))
        except ValueError:
            address = None
        name = server_hostname.encode("idna") if address is None else str(address).encode()
        param = SSL_get0_param(s)
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
        if address is not None:
            ok = X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1
        else:  # SNI is for names only (RFC 6066 §3)
            ok = SSL_set_tlsext_host_name(s, name) == 1 and SSL_set1_host(s, name) == 1
        if not ok or SSL_set_fd(s, fd) != 1:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL,
                               _openssl_reason(f"cannot set up TLS for {server_hostname}"))
        SSL_set_connect_state(s)
        self._sock = sock
        self.server_hostname = server_hostname

    def __dealloc__(self):
        SSL_free(self._io.tls)

    def fileno(self) -> int:
        return self._sock.fileno()

    def version(self):
        """The negotiated protocol ("TLSv1.3", ...), None before the handshake."""
        if not SSL_is_init_finished(self._io.tls):
            return None
        return SSL_get_version(self._io.tls).decode("ascii")

    def do_handshake(self) -> None:
        self._check(mc_tls_handshake(&self._io), "handshake")

    def send(self, data) -> int:
        """Encrypt and send all of `data` (returns its length), or raise SSLWantWriteError
        (or SSLWantReadError): offer the same bytes again later."""
        cdef Py_buffer view
        cdef int status
        get_bytes(data, &view)
        try:
            status = mc_tls_write(&self._io, view.buf, <size_t>view.len)
        finally:
            PyBuffer_Release(&view)
        self._check(status, "send")
        return view.len

    def recv(self, Py_ssize_t n) -> bytes:
        """Up to `n` decrypted bytes; b"" when the peer closed with close_notify."""
        cdef size_t got
        cdef int status
        if not 0 < n <= MAX_READ_BYTES:
            raise ValueError(f"n must be in 1..{MAX_READ_BYTES}, not {n}")
        out = PyBytes_FromStringAndSize(NULL, n)
        status = mc_tls_read(&self._io, PyBytes_AS_STRING(out), <size_t>n, &got)
        if status == MC_TLS_CLOSED:
            return b""
        self._check(status, "recv")
        return out[:got] if got < <size_t>n else out

    def writer(self):
        """The capsule the fan-out kernel writes through (mc_tls_writer.h); the caller keeps
        this connection alive while it uses the capsule."""
        return PyCapsule_New(&self._io.writer, MC_TLS_WRITER_CAPSULE, NULL)

    def take_error(self):
        """The exception for the last failed write made through the capsule."""
        return self._error("send")

    cdef int _check(self, int status, str op) except -1:
        if status == MC_TLS_OK:
            return 0
        if status == MC_TLS_WANT_READ:
            raise ssl.SSLWantReadError(ssl.SSL_ERROR_WANT_READ,
                                       "The operation did not complete (read)")
        if status == MC_TLS_WANT_WRITE:
            raise ssl.SSLWantWriteError(ssl.SSL_ERROR_WANT_WRITE,
                                        "The operation did not complete (write)")
        if status == MC_TLS_CLOSED:
            raise ssl.SSLZeroReturnError(ssl.SSL_ERROR_ZERO_RETURN,
                                         "TLS/SSL connection has been closed (EOF)")
        raise self._error(op)

    cdef object _error(self, str op):
        cdef long verify
        cdef mc_tls_io *io = &self._io
        if mc_tls_unexpected_eof(io):
            return ssl.SSLEOFError(ssl.SSL_ERROR_EOF,
                                   f"{op}: EOF occurred in violation of protocol")
        if io.err == SSL_ERROR_SYSCALL and io.sys_errno:
            return OSError(io.sys_errno, os.strerror(io.sys_errno))
        reason = io.reason.decode("utf-8", "replace") or f"{op} failed"
        if io.err == SSL_ERROR_SSL and op == "handshake":
            verify = SSL_get_verify_result(io.tls)
            if verify != X509_V_OK:
                message = X509_verify_cert_error_string(verify).decode("utf-8", "replace")
                exc = ssl.SSLCertVerificationError(
                    1, f"certificate verify failed: {message} ({reason})")
                exc.verify_code, exc.verify_message = verify, message
                exc.reason = "CERTIFICATE_VERIFY_FAILED"
                return exc
        return ssl.SSLError(ssl.SSL_ERROR_SSL if io.err == SSL_ERROR_SSL else io.err, reason)

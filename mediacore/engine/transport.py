"""Client sockets for forks: TCP (optionally TLS) driven by Trio readiness, written without
a task switch.

Why not trio's streams: the hot path writes every fork's frame from one ticker, once per
20 ms. `trio.SocketStream.send_all` costs a checkpoint and a Python-level loop per call, and
`trio.SSLStream` runs TLS in Python around a memory BIO. A non-blocking stdlib socket (or
`ssl.SSLSocket`) encrypts and sends in one C call; only when the kernel buffer is full does a
fork fall back to waiting (`trio.lowlevel.wait_writable`). Reads are rare (server messages)
and happen in the fork's own task.

TLS rule this module keeps: after `SSLWantWriteError`, OpenSSL has consumed part of the
offered bytes and must be offered the same bytes again (more may follow them), so callers
retry from the same unsent position and never offer less than before (Connection.send does
this bookkeeping through `min_offer`).
"""

from __future__ import annotations

import errno
import socket
import ssl

import trio

from mediacore.engine.idle_gate import IdleGate
from mediacore.engine.params import InvalidParameter, UrlPolicy

try:
    from mediacore._native import tls as native_tls
except ImportError:  # built without the OpenSSL headers (setup.py says so at build time)
    native_tls = None

RECV_BYTES = 65536
MAX_OFFER_BYTES = 256 * 1024  # bytes offered to one send() call


class ConnectError(Exception):
    """A connection could not be made; `stage` says where (dns, address, tcp, tls)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


class Connection:
    """One connected, non-blocking client socket (plain or TLS). `sock` is what readiness
    waits and close apply to; `tls` what reads and writes go through when the connection is
    TLS: a native TLSConnection, or the stdlib `ssl.SSLSocket` (then `sock` itself)."""

    def __init__(self, sock: socket.socket, peer: tuple, tls=None) -> None:
        self.sock = sock
        self.peer = peer
        self.tls = tls
        self.native_tls = native_tls is not None and isinstance(tls, native_tls.TLSConnection)
        self.closed = False
        self._min_offer = 0  # TLS: bytes that must be offered again after a WANT_WRITE

    def send(self, data) -> int:
        """Send what the kernel takes now; returns the bytes sent (0: would block).
        Raises OSError (ConnectionError) when the connection is broken."""
        if self.tls is not None:
            offer = memoryview(data)[:max(MAX_OFFER_BYTES, self._min_offer)]
            try:
                sent = self.tls.send(offer)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                self._min_offer = max(self._min_offer, len(offer))
                return 0
            except ssl.SSLError as exc:
                raise ConnectionError(f"TLS error while sending: {exc}") from exc
            self._min_offer = 0
            return sent
        try:
            return self.sock.send(data)
        except BlockingIOError:
            return 0

    async def wait_writable(self) -> None:
        await trio.lowlevel.wait_writable(self.sock)

    async def receive(self) -> bytes:
        """The next bytes from the server (b"" at end of stream). Waits as needed."""
        reader = self.sock if self.tls is None else self.tls
        while True:
            # the waits are outside the except clauses: a coroutine suspended in one keeps
            # its exception (and the traceback's frames) alive, one per idle connection, for
            # the garbage collector to walk, and chains it to any later exception
            try:
                return reader.recv(RECV_BYTES)
            except (ssl.SSLWantReadError, BlockingIOError):
                writable = False
            except ssl.SSLWantWriteError:
                writable = True
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLError as exc:
                raise ConnectionError(f"TLS error while receiving: {exc}") from exc
            if writable:
                await trio.lowlevel.wait_writable(self.sock)
            else:
                await trio.lowlevel.wait_readable(self.sock)

    def close(self) -> None:
        """Close at once (no TLS close_notify wait); wakes any task waiting on the socket."""
        if self.closed:
            return
        self.closed = True
        trio.lowlevel.notify_closing(self.sock)
        self.sock.close()


async def resolve(host: str, port: int, policy: UrlPolicy, field: str = "service_url") -> list:
    """Addresses for host:port that the policy admits (InvalidParameter if none is)."""
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError("dns", f"cannot resolve {host}: {exc.strerror}") from None
    admitted, refusal = [], None
    for family, type_, proto, _, addr in infos:
        try:
            policy.check_address(field, addr[0])
        except InvalidParameter as exc:
            refusal = exc
            continue
        admitted.append((family, type_, proto, addr))
    if not admitted:
        assert refusal is not None
        raise refusal
    return admitted


async def _connect_tcp(family, type_, proto, addr, gate: IdleGate | None) -> socket.socket:
    began = trio.current_time()
    sock = socket.socket(family, type_, proto)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(addr)
        if gate is not None:  # the CPU part of the step the gate let through
            gate.took(trio.current_time() - began)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            raise OSError(err, errno.errorcode.get(err, str(err)))
        if err:
            await trio.lowlevel.wait_writable(sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, errno.errorcode.get(err, str(err)))
        return sock
    except BaseException:
        trio.lowlevel.notify_closing(sock)
        sock.close()
        raise


async def _tls_handshake(tls, sock: socket.socket, gate: IdleGate | None,
                         timeout: trio.CancelScope | None) -> None:
    while True:
        if gate is not None:
            await gate.turn(timeout)  # the crypto runs in the media clock's idle time
        began = trio.current_time()
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            writable = False
        except ssl.SSLWantWriteError:
            writable = True
        finally:
            if gate is not None:
                gate.took(trio.current_time() - began)
        # waits outside the except clauses (see Connection.receive)
        if writable:
            await trio.lowlevel.wait_writable(sock)
        else:
            await trio.lowlevel.wait_readable(sock)


async def open_connection(host: str, port: int, *, policy: UrlPolicy,
                          ssl_context=None,
                          gate: IdleGate | None = None,
                          timeout: trio.CancelScope | None = None) -> Connection:
    """Resolve (checking every address against the policy), connect, and run the TLS
    handshake when `ssl_context` (see `client_tls_context`) is given, each step through
    `gate` (see idle_gate.py); `timeout`, the scope of the caller's connect timeout, does not
    run while a step waits there.
    Raises ConnectError naming the stage, or InvalidParameter when the host resolves only to
    refused addresses."""
    last: ConnectError | None = None
    if gate is not None:
        # a burst of new streams each runs its first steps (resolve, socket, connect) at once:
        # in the idle time too, so a thousand of them do not make one long step
        await gate.turn(timeout)
    for family, type_, proto, addr in await resolve(host, port, policy):
        try:
            sock = await _connect_tcp(family, type_, proto, addr, gate)
        except OSError as exc:
            last = ConnectError("tcp", f"cannot connect to {addr[0]} port {addr[1]}: "
                                       f"{exc.strerror or exc}")
            continue
        if ssl_context is None:
            return Connection(sock, addr)
        try:
            if isinstance(ssl_context, ssl.SSLContext):
                sock = tls = ssl_context.wrap_socket(sock, server_hostname=host,
                                                     do_handshake_on_connect=False)
            else:
                tls = ssl_context.connection(sock, host)
            await _tls_handshake(tls, sock, gate, timeout)
        except ssl.SSLCertVerificationError as exc:
            _close(sock)
            raise ConnectError("tls", f"certificate verification failed: "
                                      f"{exc.verify_message or exc.reason}") from None
        except (ssl.SSLError, OSError) as exc:
            _close(sock)
            raise ConnectError("tls", f"handshake failed: {exc}") from None
        except BaseException:
            _close(sock)
            raise
        return Connection(sock, addr, tls)
    assert last is not None
    try:
        raise last
    finally:
        last = None  # this frame is in its traceback: no cycle (collector.py)


def _close(sock: socket.socket) -> None:
    trio.lowlevel.notify_closing(sock)
    sock.close()


def client_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The stdlib context: certificate and host name verified against the system store, or
    `ca_file`."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def client_tls_context(ca_file: str | None = None):
    """The context wss connections use: the native one when the core has it (the same
    checks as `client_ssl_context`), else the stdlib's."""
    if native_tls is None:
        return client_ssl_context(ca_file)
    return native_tls.ClientContext(ca_file)

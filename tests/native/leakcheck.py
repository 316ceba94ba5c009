"""Exercise every native entry point `calls` times, error paths included (leak-check driver).

Run under valgrind by tests/native/test_leaks.py: `python -m tests.native.leakcheck CALLS DIR`,
DIR holding the TLS test PKI that `write_pki` made (made by the caller: trustme's
cryptography leaves fixed allocations behind at exit that valgrind would count).
Each round makes CALLS_PER_ROUND calls; the total is printed so the test can check it.
"""

import collections
import os
import socket
import ssl
import sys

from mediacore._native.calltick import CallBase, TrackInputBase, tick_call, tick_calls
from mediacore._native.fanout import DirectWriter, WriteLog, fan_out
from mediacore._native.timer import TickTimer
try:
    from mediacore._native.tls import ClientContext
except ImportError:  # built without OpenSSL headers (setup.py): no TLS rounds
    ClientContext = None
from mediacore.codec import (Format, Transcoder, l16_swap, l16_swap_into, ulaw_decode,
                             ulaw_decode_into, ulaw_encode, ulaw_encode_into)
from mediacore.framing import Framer
from mediacore.resample import Resampler
from mediacore.wire import make_profile

CALLS_PER_ROUND = 25
# TLS rounds cost ~10 ms each under valgrind (encrypting, and the stdlib server decrypting):
# one per TLS_EVERY core calls keeps the million-call run near its old time
TLS_EVERY = 500
TLS_CALLS_PER_ROUND = 15


class Fork:
    """What the call step calls back on a writer it hands back (the engine's Fork)."""

    def after_tick(self, ts_ms, inbound, outbound):
        pass

    def fail_internal(self, exc):
        pass


def writer(started: bool, log: WriteLog, sock: socket.socket, fork=None) -> DirectWriter:
    profile = make_profile("plivo", stream_id="s", call_id="c", account_id="A",
                           tracks=("inbound", "outbound"))
    if started:
        profile.start(0)
    w = DirectWriter(fork, profile.encoder, (0, 1), collections.deque(), bytearray(), log, 0)
    w.attach(sock, None, 4096)
    w.open = True
    return w


def tls_pair(ctx: ClientContext, server_ctx: ssl.SSLContext):
    """A native client connection and a stdlib server connection, handshake done."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    client = ctx.connection(a, "localhost")
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    pending = [client, server]
    while pending:
        for side in list(pending):
            try:
                side.do_handshake()
                pending.remove(side)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
    return a, client, server


def drain(server: ssl.SSLSocket) -> None:
    while True:
        try:
            server.recv(1 << 16)
        except ssl.SSLWantReadError:
            return


def write_pki(directory: str) -> None:
    """ca.pem, and server.pem (certificate and key) for localhost, into `directory`."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(
        os.path.join(directory, "server.pem"))


def tls_parts(directory: str):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(os.path.join(directory, "server.pem"))
    return ClientContext(os.path.join(directory, "ca.pem")), server_ctx


def tls_rounds(rounds: int, pki: str, a: socket.socket) -> int:
    """The native TLS client's entry points, error paths included; returns the calls made."""
    if ClientContext is None:
        return 0
    codes = bytes(range(160))
    ctx, server_ctx = tls_parts(pki)
    tls_sock, tls, tls_server = tls_pair(ctx, server_ctx)
    tls_writer = writer(True, None, tls_sock)
    tls_writer.detach()
    tls_writer.attach(tls_sock, None, 4096, tls=tls)
    tls_writer.open = True
    c, d = socket.socketpair()
    d.close()
    dead = ctx.connection(c, "localhost")  # its peer is gone: every write fails
    closed = socket.socket()
    closed.close()
    made, ts = 0, 0
    for _ in range(rounds):
        ts += 20
        ctx.connection(a, "localhost")                # an SSL made and freed
        fan_out([tls_writer], ts, codes, codes)       # a frame through SSL_write_ex
        tls.send(codes)
        tls_writer.detach()
        tls_writer.attach(tls_sock, None, 4096, tls=tls)
        tls_writer.open = True
        tls.version()
        tls.fileno()
        tls.writer()
        drain(tls_server)
        try:
            tls.recv(1024)                            # nothing to read: SSLWantReadError
        except ssl.SSLWantReadError:
            pass
        try:
            dead.send(codes)                          # EPIPE through OpenSSL's error path
        except OSError:
            pass
        dead.take_error()
        for bad in (lambda: tls.recv(0),                          # out of range
                    lambda: ctx.connection(closed, "localhost"),  # closed socket
                    lambda: ctx.connection(a, ""),                # no host name
                    lambda: ClientContext("/nonexistent/ca.pem")):  # no CA file
            try:
                bad()
            except (ValueError, FileNotFoundError):
                pass
        made += TLS_CALLS_PER_ROUND
    return made


def main(calls: int, pki: str) -> None:
    pcm, codes = bytes(range(256)) * 2 + bytes(128), bytes(range(160))
    pcm_view, dst = memoryview(bytearray(pcm)), bytearray(1280)
    up, down = Resampler(8000, 16000), Resampler(16000, 8000)
    tc = Transcoder(Format.MULAW_8K, Format.L16_16K, dst_byte_order="be")
    framer = Framer(160)
    times = bytearray(8 * 4)
    log = WriteLog(memoryview(times).cast("d"), {"s": 0}, 4, (1,), lambda i, n: None)
    log.go()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    good, broken = writer(True, log, a), writer(False, log, a)  # broken: no templates
    call, bad_call = CallBase(), CallBase()  # bad_call: no inputs, a TypeError every tick
    call.inputs = (TrackInputBase(), TrackInputBase())
    call.inputs[0].framer = Framer(160)
    call.silence, call.native_key = b"\xff" * 160, "k"
    call.groups = {"k": [writer(True, log, a, Fork())]}
    by_id = {"bad": bad_call, "good": call}
    made, ts = 0, 0
    for _ in range(calls // CALLS_PER_ROUND):
        ulaw_encode(pcm)
        ulaw_decode(codes)
        ulaw_encode_into(pcm_view, dst)
        ulaw_decode_into(codes, dst)
        l16_swap(pcm)
        l16_swap_into(pcm_view, dst)
        up.process(pcm[:320])
        up.process_into(pcm_view[:320], dst)
        down.process(pcm)
        tc.process(codes)
        tc.process_into(codes, dst)
        framer.push(codes[:100])
        frame = framer.pop()
        del frame
        Framer(640)
        Resampler(16000, 8000)
        ts += 20
        fan_out([good, broken], ts, codes, codes)  # one frame out, one encode failure
        broken.pending()
        call.inputs[0].framer.push(codes)
        tick_call(call, ts, ts)                   # a fed frame out through the call step
        tick_calls(by_id, ts, ts, None, lambda c, exc: None)  # silence; bad_call's error
        good.note_write(1)
        b.recv(1 << 16)
        timer = TickTimer()
        timer.arm_at(0.0)  # past: expires at once
        timer.consume()
        timer.close()
        del timer
        TickTimer()  # dropped unclosed: __dealloc__ closes its fd
        for bad in (lambda: ulaw_encode(pcm[:3]),            # odd length
                    lambda: ulaw_decode_into(codes, dst[:0]),  # too small (bytearray copy)
                    lambda: up.process_into(pcm_view, pcm),  # read-only destination
                    lambda: Resampler(8000, 44100),           # unsupported
                    lambda: framer.flush(b"xx"),              # bad pad
                    lambda: WriteLog(bytearray(8), {"s": 0}, 2),  # too small
                    lambda: fan_out([None], 0, codes, codes),  # not a writer
                    lambda: TickTimer().arm_at(float("nan"))):  # not a time
            try:
                bad()
            except (ValueError, TypeError):
                pass
        made += CALLS_PER_ROUND
    tls_made = tls_rounds(max(1, calls // TLS_EVERY), pki, a)
    print(f"calls={made} tls_calls={tls_made}")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])

"""`IngressHub`: how a telephony stack hands live calls to the engine (SPEC §2.3), over
RTP/UDP and Asterisk AudioSocket/TCP.

Theory of operation. The hub owns one nursery (`run`); every call's tasks live in it, so
cancelling `run` ends them all. The control plane registers each call before its media
arrives:

- `open_rtp_call` opens the engine call, binds two UDP ports from the configured range
  (even numbers: the odd ones above them are left to RTCP by convention; a port another
  process holds is skipped), and starts an `RtpCall` (rtp_call.py). Ports are taken from a
  rotating cursor, so a port just freed is the last to be reused (late packets of an ended
  call do not land in a new one).
- `expect_audiosocket_call` opens the engine call and waits for Asterisk to connect to the
  AudioSocket listener with that call's UUID (audiosocket_call.py). The listener reads each
  connection's first frame: anything but the UUID of a waiting call is logged and that
  connection closed; nothing else is affected.

A call ends by itself (RTP inactivity; AudioSocket hang-up, close, error or inactivity):
the hub closes the engine call (its streams end with call_hangup), frees the ports, then
calls `on_call_ended(call_id, reason)`. `close_call` (hang-up from the API) ends it the same
way without the callback; a call whose engine call was closed directly is cleaned up when
its tasks notice, also without the callback. When `run` is cancelled (shutdown) the calls'
tasks end and their ports close, but engine calls are left open: the engine's own
shutdown ends their streams with `shutdown`.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket as stdsocket
import uuid
from collections.abc import Callable

import trio

from mediacore.ingress.audiosocket import AudioSocketError, FrameReader, Kind
from mediacore.ingress.audiosocket_call import AudioSocketCall
from mediacore.ingress.rtp_call import RtpCall, RtpCallStats
from mediacore.ingress.telephone_event import DIGITS

log = logging.getLogger("mediacore.ingress")

DEFAULT_L16_PAYLOAD_TYPE = 96
DEFAULT_DTMF_PAYLOAD_TYPE = 101
HELLO_TIMEOUT_S = 5.0  # an AudioSocket connection must name its call within this
_FORMATS = {("PCMU", 8000): "audio/x-mulaw;rate=8000", ("L16", 8000): "audio/x-l16;rate=8000",
            ("L16", 16000): "audio/x-l16;rate=16000"}


class IngressHub:
    def __init__(self, engine, *, rtp_host: str = "0.0.0.0",
                 rtp_ports: tuple[int, int] = (40000, 40999),
                 advertised_host: str | None = None,
                 audiosocket_host: str = "0.0.0.0", audiosocket_port: int | None = None,
                 inactivity_timeout_s: float = 30.0,
                 on_call_ended: Callable[[str, str], None] | None = None,
                 rng: random.Random | None = None) -> None:
        low, high = rtp_ports
        if not (1 <= low <= high <= 65535):
            raise ValueError(f"rtp_ports must be a range within 1..65535, not {rtp_ports}")
        self._even_ports = [p for p in range(low + (low % 2), high + 1, 2)]
        if len(self._even_ports) < 2:
            raise ValueError(f"rtp_ports {low}-{high} hold fewer than two even ports; a call "
                             f"needs two")
        if not inactivity_timeout_s > 0:
            raise ValueError(f"inactivity_timeout_s must be positive, not "
                             f"{inactivity_timeout_s}")
        self.engine = engine
        self.rtp_host = rtp_host
        self.advertised_host = advertised_host or _advertised(rtp_host)
        self.audiosocket_host = audiosocket_host
        self._audiosocket_port_wanted = audiosocket_port
        self._audiosocket_port: int | None = None
        self.inactivity_timeout_s = inactivity_timeout_s
        self.on_call_ended = on_call_ended
        self.random = rng or random.SystemRandom()
        self._cursor = self.random.randrange(len(self._even_ports))
        self._ports_in_use: set[int] = set()
        self._calls: dict[str, RtpCall | AudioSocketCall] = {}
        self._nursery: trio.Nursery | None = None

    # -- running ------------------------------------------------------------------------------

    @property
    def audiosocket_port(self) -> int | None:
        """The AudioSocket listener's port (known once `run` has started), or None."""
        return self._audiosocket_port

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self._audiosocket_port_wanted is not None:
                listeners = await trio.open_tcp_listeners(self._audiosocket_port_wanted,
                                                          host=self.audiosocket_host)
                self._audiosocket_port = listeners[0].socket.getsockname()[1]
                nursery.start_soon(trio.serve_listeners, self._handle_audiosocket, listeners)
            self._nursery = nursery
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self._nursery = None

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the ingress hub is not running (start IngressHub.run first)")
        return self._nursery

    # -- calls --------------------------------------------------------------------------------

    async def open_rtp_call(self, call_id: str, *, codec: str, sample_rate: int,
                            payload_type: int | None = None,
                            rtp_remote: tuple[str, int] | None = None,
                            call_from: str = "", call_to: str = "",
                            dtmf_payload_type: int = DEFAULT_DTMF_PAYLOAD_TYPE) -> dict:
        """Open the engine call and bind its two UDP ports. Returns {"rtp_host",
        "inbound_port", "outbound_port"}. ValueError for a bad parameter (it names it);
        the engine's EngineFull when no ports are free."""
        nursery = self._running()
        fmt = _format(codec, sample_rate)
        if payload_type is None:
            payload_type = 0 if codec == "PCMU" else DEFAULT_L16_PAYLOAD_TYPE
        _check_payload_types(codec, payload_type, dtmf_payload_type)
        remote = await _resolve_remote(rtp_remote) if rtp_remote is not None else None
        if call_id in self._calls:
            raise ValueError(f"call {call_id} is already open")
        sockets, ports = await self._bind_two()
        try:
            self.engine.open_call(call_id, format=fmt, call_from=call_from, call_to=call_to)
        except BaseException:
            self._free(sockets, ports)
            raise
        rng = self.random
        call = RtpCall(self, call_id, sockets=sockets, ports=ports, payload_type=payload_type,
                       dtmf_payload_type=dtmf_payload_type, clock_rate=sample_rate,
                       l16=codec == "L16", rtp_remote=remote, ssrc=rng.getrandbits(32),
                       first_sequence=rng.getrandbits(16), first_timestamp=rng.getrandbits(32))
        self._calls[call_id] = call
        nursery.start_soon(call.run)
        return {"rtp_host": self.advertised_host, "inbound_port": ports[0],
                "outbound_port": ports[1]}

    def expect_audiosocket_call(self, call_id: str, *, sample_rate: int = 8000,
                                call_from: str = "", call_to: str = "") -> None:
        """Open the engine call (L16 at `sample_rate`) and wait for Asterisk to connect with
        this call's UUID. ValueError when call_id is not a UUID or the rate is not 8000 or
        16000, or no AudioSocket listener is configured."""
        nursery = self._running()
        if self._audiosocket_port is None:
            raise ValueError("this ingress has no AudioSocket listener (audiosocket_port)")
        try:
            canonical = str(uuid.UUID(call_id))
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"an AudioSocket call_id is a UUID (Asterisk names the call by "
                             f"it), not {call_id!r}") from None
        fmt = _format("L16", sample_rate)
        if canonical in self._calls:
            raise ValueError(f"call {call_id} is already open")
        self.engine.open_call(call_id, format=fmt, call_from=call_from, call_to=call_to)
        call = AudioSocketCall(self, call_id, sample_rate=sample_rate)
        self._calls[canonical] = call
        nursery.start_soon(call.wait_for_connection)

    def play_dtmf(self, call_id: str, digits: str) -> None:
        """Play digits into the call: RFC 4733 events on RTP, in-band tones on AudioSocket.
        ValueError for anything but 0-9*#A-D; a call the ingress does not carry (ended, or
        fed by the embedding application) is logged and skipped."""
        bad = [d for d in digits if d not in DIGITS]
        if bad or not digits:
            raise ValueError(f"DTMF digits are 0-9, *, #, A-D, not {digits!r}")
        call = self._lookup(call_id)
        if call is None:
            log.info("call %s: not carried by the ingress; DTMF %r not played", call_id, digits)
            return
        call.play_dtmf(digits)

    def close_call(self, call_id: str) -> None:
        """Hang up from the API: the ingress stops, the engine call closes (its streams end
        with call_hangup). Idempotent; `on_call_ended` is not called."""
        call = self._lookup(call_id)
        if call is not None:
            call.finish(None)
            self._ended(call, None)
        else:
            self._close_engine_call(call_id)

    def rtp_stats(self, call_id: str) -> RtpCallStats:
        """An RTP call's counters. KeyError when the ingress carries no RTP call by that id."""
        call = self._lookup(call_id)
        if not isinstance(call, RtpCall):
            raise KeyError(f"no RTP call {call_id}")
        return call.stats()

    def calls(self) -> dict[str, str]:
        """Live ingress calls: call_id -> "rtp" or "audiosocket"."""
        return {c.call_id: c.kind for c in self._calls.values()}

    def _lookup(self, call_id: str):
        call = self._calls.get(call_id)
        if call is None:
            try:
                call = self._calls.get(str(uuid.UUID(call_id)))
            except (ValueError, TypeError, AttributeError):
                return None
        return call

    def _ended(self, call, reason: str | None, *, close_engine_call: bool = True) -> None:
        """A call's tasks are over or it was hung up: forget it, close the engine call, tell
        the application when the ingress ended it by itself. Runs once."""
        key = next((k for k, c in self._calls.items() if c is call), None)
        if key is None:
            return
        del self._calls[key]
        if not close_engine_call:
            return
        self._close_engine_call(call.call_id)
        if reason is not None and self.on_call_ended is not None:
            try:
                self.on_call_ended(call.call_id, reason)
            except Exception:
                log.exception("on_call_ended(%s, %s) failed", call.call_id, reason)

    def _close_engine_call(self, call_id: str) -> None:
        try:
            self.engine.close_call(call_id)
        except KeyError:
            pass

    # -- ports --------------------------------------------------------------------------------

    async def _bind_two(self):
        sockets, ports = [], []
        family = stdsocket.AF_INET6 if ":" in self.rtp_host else stdsocket.AF_INET
        tried = 0
        try:
            while len(ports) < 2 and tried < len(self._even_ports):
                port = self._even_ports[self._cursor]
                self._cursor = (self._cursor + 1) % len(self._even_ports)
                tried += 1
                if port in self._ports_in_use:
                    continue
                sock = trio.socket.socket(family, stdsocket.SOCK_DGRAM)
                try:
                    await sock.bind((self.rtp_host, port))
                except OSError:
                    sock.close()
                    continue
                sockets.append(sock)
                ports.append(port)
                self._ports_in_use.add(port)
        except BaseException:
            self._free(sockets, ports)
            raise
        if len(ports) < 2:
            self._free(sockets, ports)
            from mediacore.engine.engine import EngineFull  # lazily: the engine imports us
            raise EngineFull(f"no two free RTP ports in {self._even_ports[0]}-"
                             f"{self._even_ports[-1]}: too many calls")
        return tuple(sockets), tuple(ports)

    def _free(self, sockets, ports) -> None:
        for sock in sockets:
            sock.close()
        self._ports_in_use.difference_update(ports)

    # -- the AudioSocket listener -------------------------------------------------------------

    async def _handle_audiosocket(self, stream) -> None:
        try:
            peer = stream.socket.getpeername()[:2]
        except OSError:
            peer = None
        try:
            async with stream:
                await self._audiosocket_connection(stream, peer)
        except Exception:  # one connection's failure never stops the listener
            log.exception("AudioSocket connection from %s failed", peer)

    async def _audiosocket_connection(self, stream, peer) -> None:
        reader = FrameReader()
        frames = []
        with trio.move_on_after(HELLO_TIMEOUT_S):
            while not frames:
                try:
                    data = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    data = b""
                if not data:
                    log.warning("AudioSocket connection from %s closed before naming its "
                                "call", peer)
                    return
                try:
                    frames = reader.feed(data)
                except AudioSocketError as exc:
                    log.warning("AudioSocket connection from %s: bad first frame (%s); "
                                "closing it", peer, exc)
                    return
        if not frames:
            log.warning("AudioSocket connection from %s sent no UUID frame within %g s; "
                        "closing it", peer, HELLO_TIMEOUT_S)
            return
        first = frames[0]
        if first.kind is not Kind.UUID:
            log.warning("AudioSocket connection from %s began with a %s frame, not the "
                        "call's UUID; closing it", peer, first.kind.name)
            return
        call_id = first.call_id
        call = self._calls.get(call_id)
        if not isinstance(call, AudioSocketCall):
            log.warning("AudioSocket connection from %s names unknown call %s; closing it",
                        peer, call_id)
            return
        if call.connected:
            log.warning("AudioSocket connection from %s names call %s, which already has a "
                        "connection; closing it", peer, call_id)
            return
        await call.serve(stream, reader, frames[1:], peer)


def _format(codec: str, sample_rate: int) -> str:
    fmt = _FORMATS.get((codec, sample_rate))
    if fmt is None:
        if codec not in ("PCMU", "L16"):
            raise ValueError(f"codec must be PCMU or L16, not {codec!r}")
        if codec == "PCMU":
            raise ValueError(f"PCMU is 8000 Hz, not {sample_rate}")
        raise ValueError(f"sample_rate must be 8000 or 16000, not {sample_rate!r}")
    return fmt


def _check_payload_types(codec: str, payload_type: int, dtmf_payload_type: int) -> None:
    for name, pt in (("payload_type", payload_type), ("dtmf_payload_type", dtmf_payload_type)):
        if isinstance(pt, bool) or not isinstance(pt, int) or not 0 <= pt <= 127:
            raise ValueError(f"{name} must be 0..127, not {pt!r}")
        if 72 <= pt <= 76:
            raise ValueError(f"{name} {pt} collides with RTCP (RFC 5761)")
    if codec == "PCMU" and payload_type != 0:
        raise ValueError(f"PCMU is payload type 0, not {payload_type}")
    if codec == "L16" and not 96 <= payload_type <= 127:
        raise ValueError(f"L16 at 8 or 16 kHz needs a dynamic payload type (96..127), not "
                         f"{payload_type}")
    if payload_type == dtmf_payload_type:
        raise ValueError(f"payload_type and dtmf_payload_type are both {payload_type}")


async def _resolve_remote(remote) -> tuple[str, int]:
    try:
        host, port = remote
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"rtp_remote must be (host, port), not {remote!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"rtp_remote port must be 1..65535, not {port}")
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=stdsocket.SOCK_DGRAM)
    except OSError as exc:
        raise ValueError(f"rtp_remote host {host!r} does not resolve: {exc}") from None
    return infos[0][4][0], port


def _advertised(host: str) -> str:
    """The address to tell peers: the bound one, or for a wildcard the address of the
    default route (a UDP connect sends nothing), or loopback."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    probe = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()

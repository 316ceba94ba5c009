"""A guard for a Hypercorn HTTP/2 bug that would let one client stop the whole daemon.

Hypercorn (0.18) looks up `self.streams[stream_id]` for every DATA frame. When the app has
already answered and closed a stream before the client finished sending its body (the API
does that for 401, 404, 405, 413: it answers without reading the body), a DATA frame that
arrives afterwards raises KeyError; under the Trio worker that error escapes the connection
and ends `hypercorn.trio.serve`, i.e. every connection. Upstream: pgjones/hypercorn issues
#197 / #329, pull requests #312, #334 and #365 (not released).

`install()` wraps `H2Protocol._handle_events` so that each event is handled on its own, and a
DATA frame for a stream Hypercorn no longer tracks is dropped after its bytes are given back
to the connection's flow-control window (as the upstream fix does). The check and Hypercorn's
lookup run without an await between them, so a stream cannot close in between.
"""

from __future__ import annotations

import h2.events
from hypercorn.protocol.h2 import H2Protocol

_original = H2Protocol._handle_events


async def _handle_events(self, events) -> None:
    for event in events:
        if (isinstance(event, h2.events.DataReceived)
                and event.stream_id not in self.streams):
            # the response was sent and the stream closed: nothing reads this body
            self.connection.acknowledge_received_data(event.flow_controlled_length,
                                                      event.stream_id)
            await self._flush()
            continue
        await _original(self, [event])


def install() -> None:
    """Idempotent."""
    H2Protocol._handle_events = _handle_events

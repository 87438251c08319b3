"""uvicorn's WebSocket protocol, closing open sockets with 1001 when the server stops.

On SIGTERM uvicorn stops accepting, then asks every open connection to shut
down, then waits for in-flight work, and only after that runs the app's
lifespan shutdown: by then the sockets are gone, so the app cannot pick the
close code. uvicorn's own protocol sends 1012 (service restart); we send
1001 (going away), which tells a client this instance is leaving and it
should reconnect (to another instance, through the load balancer).

`python -m graphql_app serve` passes this class as uvicorn's `ws` protocol;
it is the `auto` choice of uvicorn (websockets' sans-I/O protocol) with only
the close code changed.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

GOING_AWAY = 1001


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """WebSocketsSansIOProtocol whose shutdown closes with 1001 instead of 1012."""

    def shutdown(self) -> None:
        if self.close_sent or not self.handshake_complete:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

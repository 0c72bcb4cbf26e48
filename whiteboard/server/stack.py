"""What this app changes in Hypercorn 0.18, and why (pinned in ``pyproject.toml``; each change is
checked by ``tests/integration``). Both replace a name Hypercorn's ``ws_stream`` module looks up
when it needs it, so no Hypercorn code is copied.
"""

from __future__ import annotations

import hypercorn.protocol.ws_stream as ws_stream
from wsproto.events import Message
from wsproto.extensions import PerMessageDeflate


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that never accepts an offer.

    Browsers always offer it and Hypercorn 0.18 always accepts it, then compresses every frame once
    per receiver, which makes batched fan-out 4-6x slower. Hypercorn has no setting for it and
    negotiates before the app sees the request, so this replaces the class it looks up at accept
    time (``ws_stream.Handshake.accept``).
    """

    def accept(self, offer: str) -> None:  # type: ignore[override]
        return None


class _ClosingBuffer(ws_stream.WebsocketBuffer):
    """A message buffer that drops everything after a message went over the size limit.

    Hypercorn closes such a connection with 1009 but leaves the oversized message in its buffer;
    the client's next frame was then appended to it (a text frame after a binary one raised a
    ``TypeError``, a traceback in the log). Raising again for every later frame was no better:
    Hypercorn stops reading the frames that arrived with it, so the client's answer to the close
    was never read, and a client that sent one more frame after an oversized one kept its socket
    open for as long as it liked, its page never told of the 1009. So once over, the rest of the
    message and every later one are dropped here, unread by the app, which is told at the end of
    the oversized message that the client is gone (code 1009): it leaves the board and its
    socket closes.
    """

    def __init__(self, max_length: int) -> None:
        super().__init__(max_length)
        self.overflowed = False

    def extend(self, event: Message) -> None:
        if self.overflowed:
            return
        try:
            super().extend(event)
        except ws_stream.FrameTooLargeError:
            self.overflowed = True
            self.value = None  # the oversized part is not kept
            raise

    def to_message(self) -> dict:
        if self.overflowed:
            return {"type": "websocket.disconnect", "code": 1009}
        return super().to_message()


def decline_permessage_deflate() -> None:
    ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[misc]


def install() -> None:
    """Apply every change (idempotent): before serving, in ``create_app``."""
    decline_permessage_deflate()
    ws_stream.WebsocketBuffer = _ClosingBuffer  # type: ignore[misc]

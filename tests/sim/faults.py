"""Fault pieces both forge simulators share."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

JSON = "application/json; charset=utf-8"


class SimulatedDrop(Exception):
    """Raised after a partial answer so that the server cuts the connection."""


class DroppedResponse(Response):
    """Starts a 200 answer, sends part of its body, then cuts the connection."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", JSON.encode()), (b"content-length", b"999")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise SimulatedDrop("simulated network drop")

"""`JoinedWrites`: what is written in one loop turn reaches the socket as one write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.http_protocol import JoinedWrites


class Recording(asyncio.Transport):
    """The socket's side: each write as it was made, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


async def test_a_short_answers_head_and_body_go_out_as_one_write() -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")
    joined.write(b"ok\n")
    assert socket_side.writes == []
    assert joined.get_write_buffer_size() == 41
    await asyncio.sleep(0)  # the loop's next pass
    assert socket_side.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"]
    assert joined.get_write_buffer_size() == 0


async def test_each_turn_is_its_own_write() -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    joined.write(b"first")
    await asyncio.sleep(0)
    joined.write(b"second")
    await asyncio.sleep(0)
    assert socket_side.writes == [b"first", b"second"]


@pytest.mark.parametrize("held", [b"", b"head"])
async def test_a_large_write_goes_out_at_once_after_what_was_held(held: bytes) -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    large = b"x" * 100_000
    if held:
        joined.write(held)
    joined.write(large)
    # at once, so that the transport's own buffer (and uvicorn's back-pressure) sees it
    assert b"".join(socket_side.writes) == held + large
    await asyncio.sleep(0)
    assert b"".join(socket_side.writes) == held + large


async def test_close_writes_what_is_held_first() -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    joined.write(b"bye")
    joined.close()
    assert socket_side.events == ["write", "close"] and socket_side.writes == [b"bye"]
    await asyncio.sleep(0)
    assert socket_side.writes == [b"bye"]


async def test_abort_drops_what_is_held() -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    joined.write(b"never")
    joined.abort()
    await asyncio.sleep(0)
    assert socket_side.events == ["abort"] and socket_side.writes == []


async def test_nothing_is_written_to_a_socket_already_closing() -> None:
    socket_side = Recording()
    joined = JoinedWrites(socket_side, asyncio.get_running_loop())
    joined.write(b"late")
    socket_side.closing = True  # the peer went away meanwhile
    await asyncio.sleep(0)
    assert socket_side.writes == []

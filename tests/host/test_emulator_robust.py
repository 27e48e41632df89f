"""Malformed input and vanishing clients never hurt other connections."""
from __future__ import annotations

import socket
import struct

from test_emulator_support import USER, Miner, result_line, running, until

from ducorig_host.emulator.session import Session


async def test_garbage_on_one_connection_does_not_affect_another() -> None:
    async with running() as emu:
        good, bad = await Miner.connect(emu), await Miner.connect(emu)
        assert await good.share() == "GOOD\n"
        await bad.send(b"\x00\xff\xfe\x80garbage\r\n")            # before JOB: ignored
        await until(lambda: emu.connections[1].messages == 1)
        await bad.send(f"JOB,{USER},AVR,None")
        await bad.line()
        inputs = ["", "abc,def", "12", "1,2,3,4,5,6,7,8,9", "0x1f,1e3,s,r,d", "nan,NaN,,,", "\t,\n", "9" * 5000]
        for text in inputs:  # each is taken as a result, then as a job request
            await bad.send(text or " ")
            assert (await bad.line()).startswith(b"BAD,")
            await bad.send(text or " ")
            assert len((await bad.line()).split(b",")) == 3
        assert await good.share() == "GOOD\n"
        assert emu.connections[1].rejected == len(inputs)


async def test_hex_nonce_and_numeric_prefixes_parse_like_javascript() -> None:
    async with running() as emu:
        miner = await Miner.connect(emu)
        job = await miner.job()
        await miner.send(result_line(hex(job.solve()), hashrate="338.5abc"))  # parseInt("0x..")
        assert await miner.line() == b"GOOD\n"
        job = await miner.job()
        await miner.send(result_line(f"  {job.solve()}xyz"))
        assert await miner.line() == b"GOOD\n"


async def test_over_long_message_is_read_in_chunks_without_harm() -> None:
    async with running() as emu:
        other = await Miner.connect(emu)
        miner = await Miner.connect(emu)
        # Several socket reads, all ignored before JOB, until a chunk holds more
        # than 6 fields: then "Incorrect data" and a disconnect, as on the pool.
        await miner.send(b"A" * 1_000_000 + b"," * 64)
        assert await miner.line() == b"BAD,Incorrect data\n"
        assert await miner.closed()
        assert await other.share() == "GOOD\n"


async def test_client_vanishing_mid_line_and_mid_job() -> None:
    async with running() as emu:
        watcher = await Miner.connect(emu)
        await watcher.job()
        vanishing = await Miner.connect(emu)
        await vanishing.job()
        assert emu.books.user_workers[USER] == 2
        await vanishing.send(b"12,338.5")  # half a result, then a connection reset
        sock = vanishing.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        vanishing.writer.transport.abort()
        await until(lambda: emu.books.user_workers.get(USER) == 1, "cleanup after reset")
        await watcher.send(result_line(0))
        assert await watcher.line() == b"BAD,Incorrect result\n"


async def test_internal_error_costs_one_connection_only(monkeypatch) -> None:
    async with running() as emu:
        good, doomed = await Miner.connect(emu), await Miner.connect(emu)
        original = Session.handle

        def explode(self: Session, message: str):  # type: ignore[no-untyped-def]
            if message == "BOOM":
                raise RuntimeError("injected bug")
            return original(self, message)

        monkeypatch.setattr(Session, "handle", explode)
        await doomed.send("BOOM")
        assert await doomed.closed()
        assert await good.share() == "GOOD\n"

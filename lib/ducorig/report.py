# Stats over a TCP connection: one JSON line per second to host:port (the
# simulator's dashboard and benchmark; on a LAN, any listener).
import asyncio
import json

INTERVAL_S = 1


async def send_stats(rig, address):
    host, port = address.split(":")
    writer = None
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        while rig.running:
            await asyncio.sleep(INTERVAL_S)
            try:
                await write_snapshot(writer, rig)
            except MemoryError:  # the rig comes first: skip this snapshot
                writer.write(b"\n")  # ends a partial line, which the listener then drops
    except (OSError, asyncio.TimeoutError) as e:
        rig.log("stats report to %s stopped: %s" % (address, e))
    finally:
        if writer is not None:
            writer.close()
            await writer.wait_closed()


async def write_snapshot(writer, rig):
    """The rig's totals and every slave's stats as one JSON line
    {"rig": ..., "slaves": [...]}, written a slave at a time: 20 slaves in
    one string would need a ~7 KB block that a small, fragmented heap lacks."""
    writer.write(b'{"rig": ')
    writer.write(json.dumps(totals(rig)).encode())
    writer.write(b', "slaves": [')
    for i, s in enumerate(rig.stats.slaves):
        if i:
            writer.write(b", ")
        writer.write(json.dumps(s.as_dict()).encode())
        await asyncio.wait_for(writer.drain(), 5)
    writer.write(b"]}\n")
    await asyncio.wait_for(writer.drain(), 5)


def totals(rig):
    t = rig.stats.totals()
    t["bus_failures"] = rig.bus.failures
    t["poll_ms"] = rig.poll_ms
    return t

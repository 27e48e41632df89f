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
            writer.write(json.dumps(snapshot(rig)).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), 5)
    except (OSError, asyncio.TimeoutError) as e:
        rig.log("stats report to %s stopped: %s" % (address, e))
    finally:
        if writer is not None:
            writer.close()
            await writer.wait_closed()


def snapshot(rig):
    totals = rig.stats.totals()
    totals["wire_us"] = rig.bus.wire_us
    totals["transfers"] = rig.bus.transfers
    totals["poll_ms"] = rig.poll_ms
    return {"rig": totals, "slaves": [s.as_dict() for s in rig.stats.slaves]}

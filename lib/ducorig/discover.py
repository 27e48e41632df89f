# Pool discovery on the device (duino-coin/duco-rest-api app.py, getpool): GET the REST
# API's getPool and take the pool node's address from its JSON answer. Nodes
# come and go, so the rig asks at start and again after repeated connect
# failures. HTTP/1.0 over asyncio streams; TLS for an https URL (the public
# API) needs a lot of heap on the ESP8266, so the rig asks before its slaves'
# tasks start and later only while connects fail.
import asyncio
import json

MAX_REPLY = 2048  # a getPool answer is ~150 bytes of JSON plus the headers


class DiscoveryError(Exception):
    pass


def split_url(url):
    """(tls, host, port, path) of an http:// or https:// URL."""
    parts = url.split("://", 1)
    if len(parts) != 2 or parts[0] not in ("http", "https") or not parts[1]:
        raise ValueError("not an http(s) URL: %r" % url)
    tls = parts[0] == "https"
    where = parts[1].split("/", 1)
    path = "/" + (where[1] if len(where) > 1 else "")
    host, port = where[0], 443 if tls else 80
    if ":" in host:
        host, port = host.rsplit(":", 1)
        port = int(port)
    return tls, host, port, path


async def get_pool(url, timeout_ms=10000):
    """(host, port) of the pool node the API names; DiscoveryError says why not."""
    try:
        reply = await asyncio.wait_for(_get(url), timeout_ms / 1000)
    except asyncio.TimeoutError:
        raise DiscoveryError("%s: no answer in %d ms" % (url, timeout_ms))
    except (OSError, ValueError) as e:  # ValueError: a bad URL or port
        raise DiscoveryError("%s: %s" % (url, e))
    return parse_reply(url, reply)


async def _get(url):
    tls, host, port, path = split_url(url)
    reader, writer = await asyncio.open_connection(host, port, ssl=True if tls else None)
    try:
        writer.write(("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ducorig\r\n\r\n" % (path, host)).encode())
        await writer.drain()
        reply = b""
        while len(reply) <= MAX_REPLY:
            chunk = await reader.read(512)
            if not chunk:
                return reply
            reply += chunk
        return reply  # too long: parse_reply names it
    finally:
        writer.close()
        await writer.wait_closed()


def parse_reply(url, reply):
    """(host, port) from a raw HTTP answer to getPool."""
    if len(reply) > MAX_REPLY:
        raise DiscoveryError("%s: answer longer than %d bytes" % (url, MAX_REPLY))
    end = reply.find(b"\r\n\r\n")
    head, body = (reply, b"") if end < 0 else (reply[:end], reply[end + 4:])
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise DiscoveryError("%s: HTTP %s" % (url, b" ".join(status[1:]).decode() or "no status line"))
    try:
        answer = json.loads(body)
    except ValueError:
        raise DiscoveryError("%s: not JSON: %r" % (url, body[:60]))
    if not isinstance(answer, dict) or answer.get("success") is not True:
        message = answer.get("message") if isinstance(answer, dict) else None
        raise DiscoveryError("%s: %s" % (url, message or "no pool in the answer"))
    host, port = answer.get("ip"), answer.get("port")
    if not isinstance(host, str) or not host or not isinstance(port, int) or not 0 < port < 65536:
        raise DiscoveryError("%s: incomplete answer %r" % (url, body[:100]))
    return host, port

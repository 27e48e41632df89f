"""A careful client for the Duino-Coin REST API (duino-coin/duco-rest-api app.py).

The public API bans an IP for an hour after ten error observations (every
404, 429, 403 and every JSON error reply counts, in app.py's flask-ipban
setup), so this client:
* paces requests: the same path no more often than every `interval_s`, and
  never under MIN_PUBLIC_INTERVAL_S against a public host;
* retries network failures and 5xx with exponential back-off, 429 after its
  Retry-After (or a long back-off), and never retries a 403: it stops asking
  for a while instead, as every request during a ban extends it;
* never offers /miners/<user>, whose error when no miner is online counts
  toward the ban: /v2/users/<user> lists the miners as [] instead.
"""
from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from ducorig_host.apimodels import KeyCheck, UserSnapshot
from ducorig_host.cli import positive_number

PUBLIC_API = "https://server.duinocoin.com"
DEFAULT_INTERVAL_S = 20.0      # 5000 requests/day per IP allow one per ~17.3 s
MIN_PUBLIC_INTERVAL_S = 5.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
RETRY_BACKOFF_S = 2.0          # network errors and 5xx: 2, 4, 8 ... s
RATE_LIMIT_BACKOFF_S = 60.0    # 429 without Retry-After, doubled per repeat
BAN_BACKOFF_S = 900.0          # 403: no request at all for this long, doubled per repeat
MAX_BACKOFF_S = 3600.0         # the ban itself lasts an hour (flask-ipban ban_seconds)
USER_AGENT = "ducorig-host-tools"

# The API's words for an unknown user ("This user doesn't exist").
_NO_SUCH_USER = re.compile(r"(doesn.?t|does not) exist|no such user", re.IGNORECASE)


class ApiError(Exception):
    """Anything that kept the API from giving an answer."""


class ApiUnreachable(ApiError):
    """Network down, timeout, dropped connection or 5xx, after the retries."""


class ApiRateLimited(ApiError):
    """HTTP 429 or 403: the client is backing off until `until` (its clock)."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until


class ApiBadReply(ApiError):
    """Not JSON, or JSON without the expected shape (an HTML error page...)."""


class ApiRefused(ApiError):
    """The API answered {"success": false, "message": ...}."""


class UserNotFound(ApiRefused):
    pass


def is_public(base_url: str) -> bool:
    """Anything but loopback, private and link-local addresses counts as the
    public API (the mirror server2.duinocoin.com included)."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return not (address.is_loopback or address.is_private or address.is_link_local)


def unwrap(body: Any) -> Any:
    """The {success, result|message} envelope (app.py's _success, _error) -> its result."""
    if not isinstance(body, dict) or "success" not in body:
        raise ApiBadReply(f"not an API envelope: {str(body)[:80]!r}")
    if body["success"] is not True:
        raise ApiRefused(str(body.get("message") or "the API answered success=false with no message"))
    if "result" not in body:
        raise ApiBadReply("success without a result")
    return body["result"]


def describe_page(raw: bytes) -> str:
    """A one-line gist of a non-JSON reply (HTML error pages have a title)."""
    text = raw.decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    gist = title.group(1) if title else re.sub(r"<[^>]*>", " ", text)
    gist = " ".join(gist.split())
    return (gist[:80] + "...") if len(gist) > 80 else (gist or "empty body")


def parse_json(raw: bytes) -> Any:
    """Tolerant JSON: Python's json already accepts the `Infinity` and `NaN`
    the live API can emit; a BOM or stray whitespace is dropped too."""
    try:
        return json.loads(raw.decode("utf-8-sig", "replace").strip())
    except ValueError as exc:
        raise ApiBadReply(f"not JSON ({exc.msg}): {describe_page(raw)}") from None


class _Retry(Exception):
    """One failed attempt worth retrying after `delay_s` (None: the default back-off)."""

    def __init__(self, message: str, delay_s: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.rate_limited = rate_limited


class RestClient:
    def __init__(self, base_url: str = PUBLIC_API, *, interval_s: float = DEFAULT_INTERVAL_S,
                 timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
                 retry_backoff_s: float = RETRY_BACKOFF_S, rate_limit_backoff_s: float = RATE_LIMIT_BACKOFF_S,
                 ban_backoff_s: float = BAN_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        if is_public(self.base_url) and interval_s < MIN_PUBLIC_INTERVAL_S:
            raise ValueError(f"an interval of {interval_s:g} s is too fast for the public API "
                             f"(minimum {MIN_PUBLIC_INTERVAL_S:g} s, default {DEFAULT_INTERVAL_S:g} s)")
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.rate_limit_backoff_s = rate_limit_backoff_s
        self.ban_backoff_s = ban_backoff_s
        self.clock = clock
        self.sleep = sleep
        self.requests_sent = 0
        self._next_allowed: dict[str, float] = {}
        self._quiet_until = 0.0       # after 429/403: no request before this
        self._rate_limit_strikes = 0  # 429s since the last success, for the doubling
        self._ban_strikes = 0         # 403s since the last success, likewise

    # -- the endpoints ----------------------------------------------------------
    def user(self, username: str) -> UserSnapshot:
        """Balance and miners from /v2/users/<user> (never /miners/<user>)."""
        try:
            result = unwrap(self.get_json(f"/v2/users/{quote(username, safe='')}"))
        except ApiRefused as exc:
            if _NO_SUCH_USER.search(str(exc)):
                raise UserNotFound(f"no such user {username!r} (the API says: {exc})") from None
            raise
        try:
            return UserSnapshot.from_api(result, username)
        except ValueError as exc:
            raise ApiBadReply(str(exc)) from None

    def mining_key(self, username: str, key: str | None) -> KeyCheck:
        """/mining_key answers a bare {success, has_key} (app.py); the
        official miners send "None" for no key."""
        query = urlencode({"u": username, "k": key if key else "None"})
        body = self.get_json(f"/mining_key?{query}")
        if isinstance(body, dict) and "has_key" in body:
            return KeyCheck(has_key=bool(body["has_key"]), matches=body.get("success") is True)
        if isinstance(body, dict) and body.get("success") is False:
            message = str(body.get("message") or "success=false")
            error = UserNotFound if _NO_SUCH_USER.search(message) else ApiRefused
            raise error(f"mining key check: {message}")
        raise ApiBadReply(f"mining key check: unexpected answer {str(body)[:80]!r}")

    # -- transport ----------------------------------------------------------------
    def get_json(self, path: str) -> Any:
        """GET base_url+path, paced and retried; the parsed JSON body."""
        self._pace(path.split("?", 1)[0])
        if self.clock() < self._quiet_until:
            raise ApiRateLimited(f"backing off after HTTP 429/403: no request for another "
                                 f"{self._quiet_until - self.clock():.0f} s", self._quiet_until)
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                body = self._attempt(url)
            except _Retry as failure:
                if failure.rate_limited:
                    self._rate_limit_strikes += 1
                delay = self._retry_delay(failure, attempt)
                if attempt == self.retries:
                    if failure.rate_limited:
                        self._quiet_until = self.clock() + delay
                        raise ApiRateLimited(f"{url}: {failure}", self._quiet_until) from None
                    tries = f"{attempt + 1} attempts" if attempt else "1 attempt"
                    raise ApiUnreachable(f"{url}: {failure} (after {tries})") from None
                self.sleep(delay)
                attempt += 1
                continue
            self._rate_limit_strikes = 0
            self._ban_strikes = 0
            return body

    def _pace(self, path: str) -> None:
        """Asking for one path faster than interval_s gains nothing (the API
        caches for 10-15 s) and spends the day's quota."""
        now = self.clock()
        ready_at = self._next_allowed.get(path, now)
        if ready_at > now:
            self.sleep(ready_at - now)
            now = self.clock()
        self._next_allowed[path] = now + self.interval_s

    def _retry_delay(self, failure: _Retry, attempt: int) -> float:
        if failure.delay_s is not None:
            return min(failure.delay_s, MAX_BACKOFF_S)
        if failure.rate_limited:
            return min(self.rate_limit_backoff_s * 2 ** (self._rate_limit_strikes - 1), MAX_BACKOFF_S)
        return min(self.retry_backoff_s * 2 ** attempt, MAX_BACKOFF_S)

    def _attempt(self, url: str) -> Any:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.requests_sent += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                return parse_json(reply.read())
        except urllib.error.HTTPError as exc:
            return self._http_error(exc)
        except urllib.error.URLError as exc:
            raise _Retry(f"cannot reach the API: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, IncompleteRead
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}") from None

    def _http_error(self, exc: urllib.error.HTTPError) -> Any:
        try:
            raw = exc.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        if exc.code == 429:
            raise _Retry("HTTP 429 Too Many Requests", _retry_after(exc), rate_limited=True)
        if exc.code == 403:
            self._ban_strikes += 1
            self._quiet_until = self.clock() + min(self.ban_backoff_s * 2 ** (self._ban_strikes - 1),
                                                   MAX_BACKOFF_S)
            raise ApiRateLimited(f"HTTP 403 Forbidden ({describe_page(raw)}): this IP may be banned for an "
                                 "hour; every request meanwhile extends the ban, so none is sent for "
                                 f"{self._quiet_until - self.clock():.0f} s", self._quiet_until)
        if exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} ({describe_page(raw)})")
        try:
            body = parse_json(raw)
        except ApiBadReply:
            raise ApiBadReply(f"HTTP {exc.code}: {describe_page(raw)}") from None
        if isinstance(body, dict) and body.get("message"):
            raise ApiRefused(f"HTTP {exc.code}: {body['message']}")
        raise ApiBadReply(f"HTTP {exc.code}: {str(body)[:80]!r}")


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After", "") if exc.headers else ""
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: use the default back-off


def no_answer(requests: int, error: ApiError | None) -> str:
    """Why a polling command has nothing to show: its exit message."""
    if isinstance(error, UserNotFound):
        return str(error)
    if error is None:
        return "stopped before the first answer"
    return f"no answer in {requests} request(s); the last error: {error}"


# -- shared command-line options ----------------------------------------------------
def api_url(text: str) -> str:
    """The --api option: a base URL. A bare HOST[:PORT] gets http:// on
    loopback and private addresses (the emulator speaks plain HTTP) and
    https:// elsewhere (the public API)."""
    if "://" not in text:
        text = ("https://" if is_public("http://" + text) else "http://") + text
    parts = urlsplit(text)
    try:
        parts.port  # raises ValueError for a port that is not a number 0..65535
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not a number 0..65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r}: give http://HOST:PORT or https://HOST (or HOST:PORT)")
    return text.rstrip("/")


def add_api_arguments(parser: argparse.ArgumentParser, polling: bool) -> None:
    parser.add_argument("-a", "--api", type=api_url, default=PUBLIC_API, metavar="URL",
                        help="REST API base URL (default: the public API; 127.0.0.1:PORT, or "
                             "http://127.0.0.1:PORT, for the emulator of `ducorig sim`/`ducorig pool`)")
    parser.add_argument("-t", "--timeout", type=positive_number, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help="per-request timeout (default %(default)g s)")
    if polling:
        parser.add_argument("-i", "--interval", type=positive_number, default=DEFAULT_INTERVAL_S, metavar="S",
                            help=f"seconds between requests (default %(default)g; at least "
                                 f"{MIN_PUBLIC_INTERVAL_S:g} against the public API)")


def client_from_args(args: argparse.Namespace) -> RestClient:
    """Raises ValueError for an interval the public API would punish."""
    return RestClient(args.api, interval_s=getattr(args, "interval", DEFAULT_INTERVAL_S), timeout_s=args.timeout)

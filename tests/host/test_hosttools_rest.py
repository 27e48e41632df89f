"""The REST client: envelope, tolerant JSON, retries and back-off, pacing,
the public-API interval floor; against the emulator and a scripted server."""
from __future__ import annotations

import math

import pytest
from test_hosttools_support import (FakeClock, Reply, envelope, fake_client, html, json_reply, miner_json,
                                    parse_args, refusal, scripted, user_result, world)  # noqa: F401 (fixtures)

from ducorig_host import perf
from ducorig_host.rest import (BAN_BACKOFF_S, MIN_PUBLIC_INTERVAL_S, RATE_LIMIT_BACKOFF_S, ApiBadReply, ApiRateLimited,
                               ApiRefused, ApiUnreachable, RestClient, UserNotFound, client_from_args, is_public)

USERS = "/v2/users/alice"


# -- the public API and its interval floor ---------------------------------------------
@pytest.mark.parametrize("url, public", [
    ("https://server.duinocoin.com", True), ("https://server2.duinocoin.com/", True),
    ("http://162.55.103.174:8000", True), ("http://127.0.0.1:8000", False), ("http://localhost:8000", False),
    ("http://192.168.1.20", False), ("http://[::1]:8000", False),
])
def test_which_base_urls_count_as_public(url: str, public: bool) -> None:
    assert is_public(url) is public


def test_the_public_api_refuses_an_interval_under_five_seconds() -> None:
    with pytest.raises(ValueError, match="too fast for the public API"):
        RestClient(interval_s=MIN_PUBLIC_INTERVAL_S - 0.1)
    assert RestClient(interval_s=MIN_PUBLIC_INTERVAL_S).interval_s == MIN_PUBLIC_INTERVAL_S
    assert RestClient("http://127.0.0.1:9", interval_s=0.01).interval_s == 0.01
    with pytest.raises(ValueError):
        client_from_args(parse_args(perf, ["alice", "--interval", "1"]))
    assert client_from_args(parse_args(perf, ["alice"])).interval_s == 20.0


# -- against the emulator ------------------------------------------------------------------
def test_user_snapshot_from_the_emulator(world) -> None:
    client = RestClient(world.url, interval_s=0.01)
    snapshot = client.user("alice")
    assert snapshot.username == "alice" and snapshot.balance > 0
    assert len(snapshot.miners) == 4
    assert {m.identifier for m in snapshot.miners} == {"rig-1", "desk-nano"}
    assert sorted(m.ki for m in snapshot.miners) == [1, 2, 3, 4]
    assert all(m.accepted >= 12 for m in snapshot.miners)


def test_unknown_user_is_user_not_found(world) -> None:
    client = RestClient(world.url, interval_s=0.01)
    with pytest.raises(UserNotFound, match="nobody"):
        client.user("nobody")
    with pytest.raises(UserNotFound):
        client.mining_key("nobody", "x")


def test_mining_key_answers(world) -> None:
    client = RestClient(world.url, interval_s=0.01)
    right, wrong, missing = (client.mining_key("alice", k) for k in ("s3cret", "nope", None))
    assert (right.has_key, right.matches) == (True, True)
    assert (wrong.has_key, wrong.matches) == (True, False)
    assert (missing.has_key, missing.matches) == (True, False)
    no_key = client.mining_key("bob", None)
    assert (no_key.has_key, no_key.matches) == (False, True)


def test_network_down_is_unreachable_after_the_retries() -> None:
    clock = FakeClock()
    client = fake_client("http://127.0.0.1:9", clock, retries=2)
    with pytest.raises(ApiUnreachable, match="after 3 attempts"):
        client.user("alice")
    assert clock.sleeps == [2.0, 4.0] and client.requests_sent == 3


# -- the scripted server: what the emulator cannot produce -------------------------------
def test_only_v2_users_is_asked_never_miners(scripted) -> None:
    scripted.set(USERS, envelope(user_result(miners=[miner_json(1)])))
    snapshot = fake_client(scripted.url, FakeClock()).user("alice")
    assert snapshot.balance == 12.5 and snapshot.miners[0].threadid == f"{1:016x}"
    assert scripted.requests == [USERS]


def test_429_then_success_waits_retry_after(scripted) -> None:
    scripted.set(USERS, html(429, "Too Many Requests", {"Retry-After": "7"}),
                 envelope(user_result(3.25)))
    clock = FakeClock()
    client = fake_client(scripted.url, clock)
    assert client.user("alice").balance == 3.25
    assert clock.sleeps == [7.0] and len(scripted.requests) == 2


def test_429_without_retry_after_backs_off_long(scripted) -> None:
    scripted.set(USERS, html(429, "Too Many Requests"), envelope(user_result()))
    clock = FakeClock()
    fake_client(scripted.url, clock).user("alice")
    assert clock.sleeps == [RATE_LIMIT_BACKOFF_S]


def test_429_every_time_stops_asking_for_a_while(scripted) -> None:
    scripted.set(USERS, html(429, "Too Many Requests"))
    clock = FakeClock()
    client = fake_client(scripted.url, clock, retries=1)
    with pytest.raises(ApiRateLimited):
        client.user("alice")
    assert len(scripted.requests) == 2
    with pytest.raises(ApiRateLimited, match="backing off"):
        client.user("alice")  # paced by the interval, then refused without a request
    assert len(scripted.requests) == 2
    scripted.set(USERS, envelope(user_result(1.0)))
    clock.advance(4 * RATE_LIMIT_BACKOFF_S)
    assert client.user("alice").balance == 1.0 and len(scripted.requests) == 3


def test_403_is_never_retried_and_silences_the_client(scripted) -> None:
    scripted.set(USERS, html(403, "Forbidden"))
    clock = FakeClock()
    client = fake_client(scripted.url, clock)
    with pytest.raises(ApiRateLimited, match="banned") as caught:
        client.user("alice")
    assert len(scripted.requests) == 1 and caught.value.until == clock.time() + BAN_BACKOFF_S
    for _ in range(3):
        with pytest.raises(ApiRateLimited):
            client.user("alice")
    assert len(scripted.requests) == 1  # every request during a ban would extend it


@pytest.mark.parametrize("reply, message", [
    (Reply(200, b'{"result": {"balance": {"balance": 1.0}', {}), "not JSON"),
    (html(200, "Just a moment..."), "Just a moment"),
    (Reply(200, b"", {}), "empty body"),
    (json_reply([1, 2, 3]), "not an API envelope"),
    (json_reply({"success": True}), "without a result"),
    (envelope({"miners": []}), "no balance object"),
    (envelope(user_result(float("inf"))), "not a number"),
    (html(404, "Not Found"), "HTTP 404: Not Found"),
])
def test_bad_replies_are_clear_errors_without_retries(scripted, reply: Reply, message: str) -> None:
    scripted.set(USERS, reply)
    with pytest.raises(ApiBadReply, match=message):
        fake_client(scripted.url, FakeClock()).user("alice")
    assert len(scripted.requests) == 1


def test_infinity_in_a_miner_is_tolerated(scripted) -> None:
    body = envelope(user_result(miners=[miner_json(1)])).body.replace(b"340.0", b"Infinity")
    scripted.set(USERS, Reply(200, body, {}))
    (miner,) = fake_client(scripted.url, FakeClock()).user("alice").miners
    assert miner.hashrate == math.inf


@pytest.mark.parametrize("failure", [Reply(drop=True), Reply(200, b'{"res', {}, truncate=True),
                                     html(502, "Bad Gateway")])
def test_transient_failures_are_retried(scripted, failure: Reply) -> None:
    scripted.set(USERS, failure, envelope(user_result(2.0)))
    clock = FakeClock()
    assert fake_client(scripted.url, clock).user("alice").balance == 2.0
    assert clock.sleeps == [2.0] and len(scripted.requests) == 2


def test_a_stalled_server_times_out(scripted) -> None:
    scripted.set(USERS, Reply(hold=True))
    client = fake_client(scripted.url, FakeClock(), timeout_s=0.2, retries=0)
    with pytest.raises(ApiUnreachable, match="timed out"):
        client.user("alice")


def test_success_false_is_refused_and_unknown_user_is_recognised(scripted) -> None:
    scripted.set(USERS, refusal("You're using a VPN"))
    with pytest.raises(ApiRefused, match="VPN") as caught:
        fake_client(scripted.url, FakeClock()).user("alice")
    assert not isinstance(caught.value, UserNotFound)
    scripted.set(USERS, refusal("This user doesn't exist"))
    with pytest.raises(UserNotFound):
        fake_client(scripted.url, FakeClock()).user("alice")


def test_json_error_with_http_status(scripted) -> None:
    scripted.set(USERS, json_reply({"message": "Not found: GET /v2/users/alice", "success": False}, 404))
    with pytest.raises(ApiRefused, match="HTTP 404: Not found") as caught:
        fake_client(scripted.url, FakeClock()).user("alice")
    assert not isinstance(caught.value, UserNotFound)  # a wrong --api, not a wrong user


def test_same_path_is_paced_other_paths_are_not(scripted) -> None:
    scripted.set(USERS, envelope(user_result()))
    scripted.set("/mining_key", json_reply({"success": True, "has_key": False}))
    clock = FakeClock()
    client = fake_client(scripted.url, clock, interval_s=20.0)
    client.user("alice")
    client.mining_key("alice", None)
    assert clock.sleeps == []
    clock.advance(5)
    client.user("alice")
    assert clock.sleeps == [15.0] and len(scripted.requests) == 3


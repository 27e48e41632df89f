"""One pool connection's state machine: connectionHandler.js's main listener,
then mining.js's job/result loop, in the same order of checks.

It is pure logic: each inbound message (one socket read) yields at most one
reply. Transport, timing of writes and fault bytes live in server.py.
"""
from __future__ import annotations

import enum
import hashlib
import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import wire
from .books import Books, MinerStats, encode_key
from .config import EmulatorConfig
from .faults import FaultBoard
from .tiers import UPDATE_EVERY, Tier, TierTable

log = logging.getLogger(__name__)
LOGGED_CHARS = 60  # messages are quoted in logs up to this length


class State(enum.Enum):
    HANDSHAKE = "handshake"          # before the first JOB
    AWAIT_RESULT = "await_result"    # job sent
    AWAIT_REQUEST = "await_request"  # feedback sent, next message = job request
    CLOSED = "closed"


class Kind(enum.Enum):
    VERSION = "version"
    MOTD = "motd"
    ERROR = "error"      # a BAD line followed by a disconnect
    JOB = "job"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class Reply:
    text: str
    kind: Kind
    close: bool = False


@dataclass
class PoolContext:
    """State shared by every connection of one emulator."""
    config: EmulatorConfig
    tiers: TierTable
    books: Books
    faults: FaultBoard
    rng: random.Random
    clock: Callable[[], float]       # monotonic seconds
    last_hash: str
    wall_clock: Callable[[], float] = time.time


class Session:
    def __init__(self, ctx: PoolContext, threadid: str, ip: str) -> None:
        self.ctx = ctx
        self.threadid = threadid
        self.ip = ip
        self.state = State.HANDSHAKE
        self.messages = 0
        self.username: str | None = None
        self.tier: Tier | None = None
        self.worker_weight: float = 0  # counted in Books once > 0
        self.ki: float = 0
        self.pw: str | None = None
        self.iot: str | None = None
        self.ducoid: str | None = None
        self.accepted = 0
        self.rejected = 0
        self.zero_reward = 0
        self.software: str | None = None
        self.ping = 0.0
        self.results = 0
        self.shares_this_minute = 0
        self.minute_start = 0.0
        self.reject_reason: str | None = None
        self.nonce = 0
        self.expected = ""           # expectedHash of the outstanding job
        self.job_sent = 0.0
        self.feedback_sent = 0.0

    # -- entry points ---------------------------------------------------------
    @property
    def awaiting_result(self) -> bool:
        return self.state is State.AWAIT_RESULT

    def idle_timeout_s(self) -> float:
        cfg = self.ctx.config
        return cfg.idle_timeout_s if self.state is State.HANDSHAKE else cfg.mining_idle_timeout_s

    def handle(self, message: str) -> Reply | None:
        """One Node `data` event: the whole chunk is one message."""
        self.messages += 1
        fields = wire.split_message(message)
        if self.state is State.HANDSHAKE:
            return self._handshake(fields, message)
        if self.state is State.AWAIT_REQUEST:
            return self._issue_job(fields, first=False)
        if self.state is State.AWAIT_RESULT:
            return self._judge(fields, message)
        return None

    def close(self) -> None:
        """Socket closed: free the worker slot and unlist the miner."""
        if self.worker_weight and self.username is not None:
            self.ctx.books.remove_worker(self.username, self.ip, self.worker_weight)
            self.worker_weight = 0
        self.ctx.books.unpublish(self.threadid)
        self.state = State.CLOSED

    # -- connectionHandler.js mainListener ------------------------------------
    def _handshake(self, fields: list[str], message: str) -> Reply | None:
        if len(fields) > 6:
            return self._disconnect("Incorrect data", message)
        user = wire.field(fields, 1)
        # The pool checks field 1 against the ban list for any command.
        if user is not None and user in self.ctx.config.banned_users:
            return self._disconnect("User banned", message)
        if fields[0] == "JOB":
            if not user:
                return self._disconnect("No username specified", message)
            self.username = user
            return self._issue_job(fields, first=True)
        if fields[0] == "MOTD":
            return Reply(self.ctx.config.motd, Kind.MOTD)
        log.debug("%s: ignored before JOB: %r", self.threadid, message[:LOGGED_CHARS])
        return None

    def _disconnect(self, reason: str, message: str) -> Reply:
        log.info("%s: BAD,%s and disconnect (got %r)", self.threadid, reason, message[:LOGGED_CHARS])
        self.state = State.CLOSED
        return Reply(f"BAD,{reason}\n", Kind.ERROR, close=True)

    # -- mining.js: job request -> job ------------------------------------------
    def _issue_job(self, fields: list[str], first: bool) -> Reply:
        ctx, books = self.ctx, self.ctx.books
        assert self.username is not None
        now = ctx.clock()
        if first:
            # The tier comes from the first request only; later moves are the
            # server's own (overrideDifficulty).
            self.tier = ctx.tiers.lookup(wire.field(fields, 2) or "")
            books.ensure_account(self.username)
            self.worker_weight = 0.5 if self.tier.name == "ESP32" else 1  # ints print as in JS
            self.ki = books.add_worker(self.username, self.ip, self.worker_weight)
            self.minute_start = now
        else:
            self.ping = now - self.feedback_sent
        assert self.tier is not None
        key = wire.field(fields, 3)
        self.pw = encode_key(key) if key else None
        self.iot = wire.iot_reading(wire.field(fields, 4))
        workers = books.worker_count(self.username, self.ip)
        limit = ctx.config.max_workers
        self.reject_reason = "Too many workers" if 0 < limit < workers else None
        # Kolka index: lowered when other workers have gone since.
        self.ki = min(self.ki, workers)

        diff = self.tier.diff
        rule = ctx.faults.rule(self.threadid, self.username)
        easy = rule is not None and rule.easy_every and (self.results + 1) % rule.easy_every == 0
        self.nonce = 1 if easy else ctx.rng.randint(1, 100 * diff)
        expected = hashlib.sha1(f"{ctx.last_hash}{self.nonce}".encode()).hexdigest()
        self.expected = expected
        self.job_sent = now
        self.state = State.AWAIT_RESULT
        return Reply(f"{ctx.last_hash},{expected},{diff}\n", Kind.JOB)

    # -- mining.js: result -> feedback ------------------------------------------
    def _judge(self, fields: list[str], message: str) -> Reply:
        ctx, cfg = self.ctx, self.ctx.config
        assert self.tier is not None and self.username is not None
        now = ctx.clock()
        sharetime = now - self.job_sent
        if sharetime > self.ping:
            sharetime -= self.ping

        # Rejection reasons overwrite each other in this order (last one wins).
        reason = self.reject_reason
        reported = wire.js_parse_float(wire.field(fields, 1))
        if reported <= 0:
            reason = "Invalid data"
        hashrate_calc = self.nonce / sharetime if sharetime >= 0.5 else reported
        self.shares_this_minute += 1
        answer = wire.js_parse_int(fields[0])
        if self.shares_this_minute > cfg.max_shares_per_minute:
            reason = "Too low difficulty"
        estimated = math.isnan(reported) or reported == 0
        hashrate = hashrate_calc if estimated else reported
        chip_id = wire.field(fields, 4)
        if self.results == 0:
            self.ducoid = chip_id  # the first result fixes the expected DUCOID
        self.results += 1

        tier = self.tier
        reward = 0.0
        if reason:
            feedback = f"BAD,{reason}"   # not counted as rejected, as in mining.js
        elif hashrate < tier.min_hashrate:
            self.tier = ctx.tiers.down(tier)
            self.rejected += 1
            feedback = "BAD,Too high starting difficulty"
        elif hashrate >= tier.max_hashrate:
            self.tier = ctx.tiers.up(tier)
            self.rejected += 1
            feedback = "BAD,Too low starting difficulty"
        elif answer == self.nonce:
            burst = ctx.faults.take(self.threadid, self.username, "bad_burst")
            if burst is not None:
                self.rejected += 1
                feedback = f"BAD,{burst.bad_reason}"
            else:
                self.accepted += 1
                reward = self._share_reward(tier, hashrate_calc, chip_id)
                if cfg.block_chance > 0 and ctx.rng.randrange(cfg.block_chance) == 0:
                    reward += cfg.block_reward
                    log.info("%s: block found by %s", self.threadid, self.username)
                    feedback = "BLOCK"
                else:
                    feedback = "GOOD"
        else:
            self.rejected += 1
            feedback = "BAD,Incorrect result"
        if feedback.startswith("BAD"):
            log.info("%s: %s for %r", self.threadid, feedback, message[:LOGGED_CHARS])
        self.feedback_sent = now

        # mining.js runs this block after every result while the accepted
        # count is a positive multiple of 2, rejected results included.
        if self.accepted > 0 and self.accepted % UPDATE_EVERY == 0:
            self._refresh(fields, reward, hashrate, sharetime, now)
        self.state = State.AWAIT_REQUEST
        return Reply(feedback + "\n", Kind.FEEDBACK)

    def _share_reward(self, tier: Tier, hashrate_calc: float, chip_id: str | None) -> float:
        """Reward of an accepted share: none for the first 10, none (and a
        rejected count) when the DUCOID is missing or changed."""
        if self.accepted <= 10:
            return 0.0
        if tier.ducoid_checked and (not self.ducoid or chip_id != self.ducoid):
            self.rejected += 1
            self.zero_reward += 1
            return 0.0
        return tier.reward(hashrate_calc, self.ki)

    def _refresh(self, fields: list[str], reward: float, hashrate: float, sharetime: float,
                 now: float) -> None:
        """The stats block: book the reward, publish stats, advance lastHash."""
        ctx = self.ctx
        assert self.tier is not None and self.username is not None
        self.software = wire.sanitize_name(wire.field(fields, 2)) or self.software
        pw = self.pw
        identifier = "None"
        rig = wire.field(fields, 3)
        if rig is not None:
            name, *legacy = rig.split(":")
            cleaned = wire.sanitize_name(name)
            if cleaned is not None:
                identifier = cleaned
                if legacy and legacy[0]:
                    pw = encode_key(legacy[0])  # "rig:key" from old miners
        if now - self.minute_start >= ctx.config.share_window_s:
            self.minute_start = now
            self.shares_this_minute = 0
        if not math.isfinite(reward):
            log.warning("%s: non-finite reward %r not credited", self.threadid, reward)
        stats = MinerStats(
            threadid=self.threadid, username=self.username, hashrate=hashrate, sharetime=sharetime,
            accepted=self.accepted, rejected=self.rejected, diff=self.tier.diff,
            software=self.software, identifier=identifier, pool=ctx.config.pool_name,
            wd=wire.js_parse_int(wire.field(fields, 5)), ki=self.ki, ducoid=self.ducoid,
            tier=self.tier.name, zero_reward=self.zero_reward, pw=pw, iot=self.iot,
            ping=self.ping, last_reward=reward, shares_this_minute=self.shares_this_minute,
            ip=self.ip, t=int(ctx.wall_clock()),
        )
        ctx.books.publish(stats, reward)
        ctx.last_hash = self.expected

    def snapshot(self) -> dict[str, Any]:
        """Live connection state for /_emulator/state."""
        return {
            "threadid": self.threadid, "ip": self.ip, "state": self.state.value,
            "username": self.username, "tier": self.tier.name if self.tier else None,
            "diff": self.tier.diff if self.tier else None, "accepted": self.accepted,
            "rejected": self.rejected, "zero_reward": self.zero_reward, "ki": self.ki,
            "ducoid": self.ducoid, "pw": self.pw, "messages": self.messages,
            "shares_this_minute": self.shares_this_minute,
        }

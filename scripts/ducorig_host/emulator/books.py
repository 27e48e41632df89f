"""Accounts, worker counters and published miner statistics.

This plays both the pool's bookkeeping (worker counts, minersStats) and the
master's (balances, the mining-key check of the last public master code:
revoxhere/duino-coin, useful-tools branch, Master_Server/Server.py).
"""
from __future__ import annotations

import base64
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

ALGORITHM = "DUCO-S1"
# Miner fields of the REST API (duino-coin/duco-rest-api app.py, row_to_miner).
API_MINER_FIELDS = ("threadid", "username", "hashrate", "sharetime", "accepted", "rejected", "diff",
                    "software", "identifier", "algorithm", "pool", "wd", "ki")
# Emulator-only fields the REST miner lists add, so a dashboard or test can
# see which chip (DUCOID) mines in which tier and which shares earned nothing.
EMULATOR_MINER_FIELDS = ("ducoid", "tier", "zero_reward")


def encode_key(key: str) -> str:
    """The pool stores a mining key as base64 of its text (`pw`)."""
    return base64.b64encode(key.encode()).decode("ascii")


@dataclass
class Account:
    username: str
    key: str | None = None
    balance: float = 0.0
    created: float = field(default_factory=time.time)

    def accepts(self, pw: str | None) -> bool:
        """The master keeps a miner when the account has no key or pw matches."""
        return not self.key or pw == encode_key(self.key)

    def balance_object(self) -> dict[str, Any]:
        """The REST balance object (duco-rest-api app.py, get_user_data)."""
        return {
            "username": self.username,
            "balance": round(self.balance, 20),
            "verified": "yes",
            "created": time.strftime("%d/%m/%Y", time.localtime(self.created)).lower(),
            "stake_date": 0,
            "stake_amount": 0,
            "last_login": int(self.created),
        }


@dataclass
class MinerStats:
    """One refresh of a connection's statistics (mining.js minersStats), under
    the REST API's names plus a few extras for tests."""
    threadid: str
    username: str
    hashrate: float
    sharetime: float
    accepted: int
    rejected: int
    diff: int
    software: str | None
    identifier: str
    pool: str
    wd: int | None
    ki: float
    ducoid: str | None
    tier: str
    zero_reward: int
    pw: str | None
    iot: str | None
    ping: float
    last_reward: float
    shares_this_minute: int
    ip: str
    t: int
    algorithm: str = ALGORITHM

    def api(self) -> dict[str, Any]:
        """The miner object of the REST API plus the emulator-only fields."""
        return {name: getattr(self, name) for name in API_MINER_FIELDS + EMULATOR_MINER_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Books:
    def __init__(self, accounts: dict[str, str | None]) -> None:
        self.accounts = {name: Account(name, key) for name, key in accounts.items()}
        self.user_workers: dict[str, float] = {}
        self.ip_workers: dict[str, float] = {}
        self.stats: dict[str, MinerStats] = {}

    def ensure_account(self, username: str) -> Account:
        """Convenience: a user that mines without being registered gets an
        account (no key, balance 0) on its first JOB."""
        return self.accounts.setdefault(username, Account(username))

    # -- worker counters (connectionHandler.js / mining.js) --------------------
    def add_worker(self, username: str, ip: str, weight: float) -> float:
        """Count a new worker; returns its Kolka index (counts include it)."""
        self.user_workers[username] = self.user_workers.get(username, 0) + weight
        self.ip_workers[ip] = self.ip_workers.get(ip, 0) + weight
        return self.worker_count(username, ip)

    def remove_worker(self, username: str, ip: str, weight: float) -> None:
        for table, key in ((self.user_workers, username), (self.ip_workers, ip)):
            table[key] -= weight
            if table[key] <= 0:
                del table[key]

    def worker_count(self, username: str, ip: str) -> float:
        return max(self.user_workers.get(username, 0), self.ip_workers.get(ip, 0))

    # -- published statistics and rewards -------------------------------------
    def publish(self, stats: MinerStats, reward: float) -> None:
        """A stats refresh: the pool books `reward` and uploads the stats; the
        master credits it unless the connection's key is wrong (Server.py,
        check_miner_key)."""
        self.stats[stats.threadid] = stats
        account = self.ensure_account(stats.username)
        if account.accepts(stats.pw) and math.isfinite(reward):
            account.balance += reward

    def unpublish(self, threadid: str) -> None:
        self.stats.pop(threadid, None)

    def miners(self, username: str) -> list[MinerStats]:
        """What the master lists: refreshed connections with an accepted key."""
        account = self.accounts.get(username)
        if account is None:
            return []
        return [s for s in self.stats.values() if s.username == username and account.accepts(s.pw)]

    def balance(self, username: str) -> float | None:
        account = self.accounts.get(username)
        return None if account is None else account.balance

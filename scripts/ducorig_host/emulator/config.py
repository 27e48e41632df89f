"""Every knob of the emulator in one dataclass (defaults: the public pool
code, revoxhere/duino-coin-pools config/config.json and src/mining.js; all of
them are server-supplied on the live network)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .tiers import DEFAULT_TIERS, FALLBACK_TIER, Tier


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    pool_port: int = 0                 # 0 = ephemeral
    http_port: int = 0                 # 0 = ephemeral
    version: str = "2.5"               # greeting line, sent with "\n"
    motd: str = "Welcome to the first Duino-Coin pool!"  # sent with no terminator
    pool_name: str = "ducorig-emulator"
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    fallback_tier: Tier = FALLBACK_TIER
    max_workers: int = 50              # <= 0 disables the limit
    max_shares_per_minute: int = 80
    share_window_s: float = 60.0       # "minute" for max_shares_per_minute
    block_chance: int = 0              # 1 in N accepted shares is a BLOCK; 0 = never
    block_reward: float = 28.11
    idle_timeout_s: float = 30.0       # before the first JOB
    mining_idle_timeout_s: float = 90.0
    rtt_ms: float = 0.0                # added before every reply
    jitter_ms: float = 0.0             # +- uniform on top of rtt_ms
    user_latency: dict[str, tuple[float, float]] = field(default_factory=dict)  # user -> (rtt_ms, jitter_ms)
    accounts: dict[str, str | None] = field(default_factory=dict)  # user -> mining key (None: no key)
    banned_users: frozenset[str] = frozenset()
    seed: int | None = None            # RNG seed: nonces, threadids, jitter, blocks
    initial_hash: str = "ba29a15896fd2d792d5c4b60668bf2b9feebc51d"  # first lastHash (AVR_Miner.py self-test)

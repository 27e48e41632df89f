"""`ducorig pool`: a local emulator of a Duino-Coin pool node and of the REST
API of its master, faithful to revoxhere/duino-coin-pools (src/mining.js,
src/connectionHandler.js) and duino-coin/duco-rest-api (app.py).

Deliberate differences from the public pool code:
* 127.0.0.1 counts for the per-IP worker limit like any address, and the
  worker limit is enforced (the public checkWorkers() always answers "no").
* Banned usernames are refused but their IP is not banned (every client here
  shares 127.0.0.1).
* The master's share of the work is done in-process: a stats refresh credits
  the reward to the user's balance at once, unless the account has a mining
  key and the connection's differs (revoxhere/duino-coin, useful-tools
  branch, Master_Server/Server.py); such a miner is not listed.
  A non-finite reward (NaN from a missing hashrate) is not credited.
* Users that mine without being registered get an account on their first JOB.
* BLOCK happens with probability 1/block_chance (0 = never), so
  block_chance=1 means every accepted share.
* Rewards: kolka V1 with per-tier divisors calibrated so that one worker
  earns about 12 DUCO a day (tiers.calibrated_reward_div): AVR at the
  official 343 H/s, diff 6, 0.1 s overhead per share -> ~88,500 shares a
  day, half of them booked (only every 2nd share's reward is added, as in
  mining.js), 2*ln(343)/div each -> div ~= 43,061. Other default tiers are
  calibrated at the middle of their hashrate range.
* Fault rules (faults.py) count per rule: drop=2 for a user means two drops
  in total over all of that user's connections.
* Not emulated: Kolka V3 (PC variable difficulty), "Modified hashrate" (ESP
  tiers), IP bans, pool sync delays (stats appear at the refresh itself).
"""
from .config import EmulatorConfig
from .faults import Faults
from .server import PoolEmulator, serve
from .thread import EmulatorThread
from .tiers import Tier
from .cli import main

__all__ = ["EmulatorConfig", "EmulatorThread", "Faults", "PoolEmulator", "Tier", "main", "serve"]

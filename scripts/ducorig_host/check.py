"""`ducorig check USER [--key KEY]`: is the account there, is the mining key
right, how many miners are online against the worker limit. One line per
check, then the verdict; the exit code tells the most serious finding.

A wrong mining key is the trap this catches: the pool still answers GOOD to
every share, but the master drops the miners and the user earns nothing
(revoxhere/duino-coin, useful-tools branch, Master_Server/Server.py,
check_miner_key)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from ducorig_host.apimodels import KeyCheck, UserSnapshot
from ducorig_host.cli import whole_number
from ducorig_host.minerreport import DEFAULT_MAX_WORKERS, DEFAULT_WORKER_MARGIN
from ducorig_host.rest import ApiError, RestClient, UserNotFound, add_api_arguments, client_from_args

# Exit codes, from the most serious finding down (only the first one found
# is returned; every finding is printed).
OK = 0
API_ERROR = 1          # the API could not be read: nothing was checked
USAGE = 2              # bad options (argparse uses 2 as well)
NO_ACCOUNT = 3         # the user does not exist
WRONG_KEY = 4          # the account has a mining key and --key is not it
OVER_LIMIT = 5         # more miners online than the pool's or the account's limit
KEY_UNCHECKED = 6      # the account has a mining key but no --key was given
NO_MINERS = 7          # the account is fine but no miner is online
SEVERITY = (API_ERROR, NO_ACCOUNT, WRONG_KEY, OVER_LIMIT, KEY_UNCHECKED, NO_MINERS)

EXIT_CODES_HELP = (f"exit codes: {OK} all good, {API_ERROR} API unreachable or unreadable, {USAGE} bad options, "
                   f"{NO_ACCOUNT} no such user, {WRONG_KEY} wrong mining key, {OVER_LIMIT} more miners than the "
                   f"worker limit, {KEY_UNCHECKED} the account has a mining key but --key was not given, "
                   f"{NO_MINERS} no miner online")


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)
    codes: set[int] = field(default_factory=set)

    def good(self, what: str, text: str) -> None:
        self.lines.append(f"ok    {what:<8} {text}")

    def warn(self, what: str, text: str) -> None:
        self.lines.append(f"warn  {what:<8} {text}")

    def bad(self, what: str, text: str, code: int) -> None:
        self.lines.append(f"FAIL  {what:<8} {text}")
        self.codes.add(code)

    @property
    def exit_code(self) -> int:
        return next((code for code in SEVERITY if code in self.codes), OK)


def check_key(findings: Findings, key: str | None, result: KeyCheck) -> None:
    if not result.has_key:
        note = " (the key you gave is ignored: send None)" if key else ""
        findings.good("key", f"the account has no mining key{note}")
    elif key is None:
        findings.bad("key", "the account has a mining key: give it with --key to check it", KEY_UNCHECKED)
    elif result.matches:
        findings.good("key", "right")
    else:
        findings.bad("key", "WRONG: the pool answers GOOD but the miners earn nothing", WRONG_KEY)


def check_miners(findings: Findings, snapshot: UserSnapshot, max_workers: int, margin: int) -> None:
    online = len(snapshot.miners)
    limit = f"pool limit {max_workers}"
    if snapshot.max_miners is not None:
        limit += f", account max_miners {snapshot.max_miners}"
    if online > max_workers:
        findings.bad("miners", f"{online} online ({limit}): too many, every share gets BAD,Too many workers",
                     OVER_LIMIT)
    elif snapshot.max_miners is not None and online > snapshot.max_miners:
        findings.bad("miners", f"{online} online ({limit}): more than the account allows", OVER_LIMIT)
    elif online == 0:
        findings.bad("miners", f"none online ({limit})", NO_MINERS)
    elif max_workers - online <= margin:
        findings.warn("miners", f"{online} online ({limit}): nearly full")
    else:
        findings.good("miners", f"{online} online ({limit})")


def run_checks(client: RestClient, user: str, key: str | None, max_workers: int = DEFAULT_MAX_WORKERS,
               margin: int = DEFAULT_WORKER_MARGIN) -> Findings:
    findings = Findings()
    try:
        snapshot = client.user(user)
    except UserNotFound as exc:
        findings.bad("account", str(exc), NO_ACCOUNT)
        return findings
    except ApiError as exc:
        findings.bad("account", f"cannot read it: {exc}", API_ERROR)
        return findings
    findings.good("account", f"{snapshot.username} found, balance {snapshot.balance:.8f} DUCO")
    try:
        check_key(findings, key, client.mining_key(user, key))
    except ApiError as exc:
        findings.bad("key", f"cannot check it: {exc}", API_ERROR)
    check_miners(findings, snapshot, max_workers, margin)
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("user", help="Duino-Coin username")
    parser.add_argument("-k", "--key", help="the mining key the rig uses (checked with /mining_key)")
    parser.add_argument("--max-workers", type=whole_number(1), default=DEFAULT_MAX_WORKERS, metavar="N",
                        help="the pool's worker limit (default %(default)d)")
    parser.add_argument("--worker-margin", type=whole_number(0), default=DEFAULT_WORKER_MARGIN, metavar="N",
                        help="warn this close to the worker limit (default %(default)d)")
    add_api_arguments(parser, polling=False)


def run(args: argparse.Namespace) -> int:
    try:
        client = client_from_args(args)
    except ValueError as exc:
        print(f"ducorig check: {exc}", file=sys.stderr)
        return USAGE
    findings = run_checks(client, args.user, args.key, args.max_workers, args.worker_margin)
    print("\n".join(findings.lines))
    code = findings.exit_code
    print(f"result: {'OK' if code == OK else 'problem'} (exit {code})")
    return code

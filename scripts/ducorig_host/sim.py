"""`ducorig sim`: the simulated rig with a live dashboard.

The controller (lib/ducorig as .mpy) runs on the MicroPython unix port with an
ESP8266-like heap, drives virtual Pro Minis on the simulated I2C bus and mines
against the local pool emulator (or --pool). Its output goes to
<workdir>/rig.log, or with --console to this terminal (then the dashboard
prints only the summary). What the controller would cost an ESP8266 is
`ducorig bench chip`'s business: the dashboard shows what the rig does, not
what a chip would pay for it."""
from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ducorig_host import dashboard
from ducorig_host.cli import number, positive_number
from ducorig_host.dashboard import Dashboard, Figures
from ducorig_host.emulator.cli import tier_option
from ducorig_host.emulator.tiers import DEFAULT_TIERS
from ducorig_host.screen import Screen
from ducorig_host.simrig import (ESP8266_HEAPSIZE, HEAPSIZE, Report, SimError, SimRig, SimSpec, heap_bytes,
                                 parse_slaves)

FRAME_S = 0.5  # the dashboard's refresh
PLAIN_S = 10.0  # a line this often when the output is not a terminal
FIRST_REPORT_S = 20.0  # the controller reports every second: silence this long means it is stuck
LOG_TAIL = 6  # lines of the controller's log shown when it fails


def _heap(text: str) -> str:
    try:
        if heap_bytes(text) > 0:
            return text
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a heap size such as 192k, 1m or 65536")


def _pool(text: str) -> tuple[str, int]:
    """HOST:PORT of a pool on this machine or the LAN: the sim's slaves are
    a PC's models, which a public pool must not take for AVR boards."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    if host != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{host!r}: give an IP address or localhost") from None
        if not (address.is_loopback or address.is_private):
            raise argparse.ArgumentTypeError(f"{host} is not on this machine or a private network: a simulated "
                                             "rig must not mine on a public pool")
    return host, int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slaves", default="3", help="KIND:COUNT,... with KIND in ducorig, yaum (Python models of the two protocols) or avr (our sketch in simavr, at most 6); default 3 = ducorig:3")
    parser.add_argument("--rtt", type=number(0), default=50.0,
                        help="pool round-trip time, ms (default 50)")
    parser.add_argument("--jitter", type=number(0), default=0.0,
                        help="uniform jitter on the RTT, ms")
    parser.add_argument("--minutes", type=positive_number, default=3.0,
                        help="how long to mine (default 3; 0.1 is 6 s)")
    parser.add_argument("--i2c-hz", type=int, default=100_000, help="I2C clock (default 100000)")
    parser.add_argument("--ready-line", action="store_true", help="poll only when the shared ready line says so")
    parser.add_argument("--console", action="store_true", help="give this terminal to the rig's console")
    parser.add_argument("--heap", type=_heap, default=HEAPSIZE,
                        help=f"MicroPython heap beside the ROMFS image (default {HEAPSIZE}; the ESP8266-like "
                             f"target is {ESP8266_HEAPSIZE})")
    parser.add_argument("--wide", action="store_true",
                        help="show every column at once (~125 columns): the t key's timings beside the slaves")
    parser.add_argument("--pool", type=_pool, metavar="HOST:PORT",
                        help="mine on this pool (e.g. one `ducorig pool` runs) instead of starting the emulator")
    parser.add_argument("--tier", action="append", type=tier_option, default=[], metavar="NAME:DIFF:MIN:MAX[:DIV]",
                        help="the built-in pool's difficulty tiers in up/down order (repeatable, replaces its "
                             "table, as ducorig pool --tier), e.g. to see a tier bounce")
    parser.add_argument("--user", default=SimSpec.user, help=f"the Duino-Coin user to mine for (default {SimSpec.user})")
    parser.add_argument("--key", help="the mining key; the emulator's account gets it (try ducorig check --key)")
    parser.add_argument("--workdir", type=Path, help="where the .mpy files, config and log go, kept "
                                                     "(default: a temp dir, removed at exit)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed at exit)")


def problem(args: argparse.Namespace) -> str | None:
    """What makes this run impossible, found before anything starts."""
    if args.console and not sys.stdin.isatty():
        return ("--console needs a terminal on stdin, and this one is a pipe or a file: the controller "
                "runs its console only on a terminal")
    if args.tier and args.pool:
        return "--tier sets the built-in pool's table; the pool given with --pool has its own"
    if args.workdir is not None and args.workdir.exists() and not args.workdir.is_dir():
        return f"--workdir {args.workdir}: not a directory"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        spec = SimSpec(parse_slaves(args.slaves), args.rtt, args.jitter, args.i2c_hz, args.ready_line,
                       user=args.user, key=args.key, heapsize=args.heap, pool=args.pool,
                       tiers=tuple(args.tier) or DEFAULT_TIERS)
    except SimError as e:
        print(f"ducorig sim: error: {e}", file=sys.stderr)
        return 2
    reason = problem(args)
    if reason:
        print(f"ducorig sim: error: {reason}", file=sys.stderr)
        return 2
    total_s = args.minutes * 60
    print(f"ducorig sim: {len(spec.slaves)} slaves for {dashboard.clock(total_s)}, "
          f"{'q in the console' if args.console else 'Ctrl-C'} stops early", flush=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ducorig-sim-"))
    rig = SimRig(spec, workdir)
    ended, last = "unstarted", None
    try:
        with stop_on_hangup():
            ended, last = start_and_watch(rig, args, total_s)
    except SimError as e:
        print(f"ducorig sim: {e}", file=sys.stderr)
    finally:  # on any exception too: neither the controller nor the temp dir outlives the command
        code = rig.stop()
        log = None if args.console else log_tail(rig.log_path)
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if ended == "unstarted":
        return 1
    failure = failed(ended, code, last, log)
    if failure:
        print("\n".join(failure), file=sys.stderr)
    if last is not None:
        print("\n".join(Figures.of(last, spec.i2c_hz).summary()))
    if args.keep:
        print(f"kept {workdir}")
    return 1 if failure else 0


def start_and_watch(rig: SimRig, args: argparse.Namespace, total_s: float) -> tuple[str, Report | None]:
    try:
        rig.start(console=args.console)
    except OSError as e:
        raise SimError(f"cannot start: {e}") from None
    print("\n".join(where(rig, args)), flush=True)
    return watch(rig, args, time.monotonic() + total_s, total_s)


def where(rig: SimRig, args: argparse.Namespace) -> list[str]:
    """Where the pool, its REST API and the controller's log are."""
    host, port = rig.pool_address
    if rig.emulator is None:
        lines = [f"  pool  {host}:{port} (--pool)"]
    else:
        api = f"http://127.0.0.1:{rig.emulator.http_port}"
        key = f" --key {args.key}" if args.key else ""
        lines = [f"  pool  {host}:{port}, REST {api} (the emulator)",
                 f"  try   ducorig check {args.user}{key} --api {api}"]
    if not args.console:
        lines.append(f"  log   {rig.log_path}" + ("" if args.workdir or args.keep else " (removed at exit)"))
    return lines


@contextlib.contextmanager
def stop_on_hangup() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the run as Ctrl-C does: the controller runs
    in a session of its own, and would outlive this process otherwise."""
    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    before = [signal.signal(s, signal.default_int_handler) for s in signals]
    try:
        yield
    finally:
        for s, handler in zip(signals, before):
            signal.signal(s, handler)


def watch(rig: SimRig, args: argparse.Namespace, deadline: float, total_s: float) -> tuple[str, Report | None]:
    """Show the rig until the time is up ("time"), Ctrl-C or q ("stopped"),
    the controller exits ("exited") or stays silent ("silent"). Returns why,
    and the last report, read while the controller still runs: the summary's
    figures, which the last frame shows too."""
    screen = Screen()
    live = screen.live and not args.console
    board = Dashboard(len(rig.spec.slaves), total_s, rig.spec.i2c_hz, "wide" if args.wide else "slaves",
                      where(rig, args)[:1])

    def draw(report: Report | None) -> None:
        now = time.monotonic()
        screen.show("\n".join(board.frame(report, deadline - now, now - rig.started, screen.rows())))

    def until_the_end(key: Callable[[float], str | None]) -> str:
        shown_at = -PLAIN_S  # the first plain line as soon as there is a report
        while True:
            now = time.monotonic()
            if now >= deadline:
                return "time"
            if not rig.alive():
                return "exited"
            if rig.last_report() is None and now - rig.started > FIRST_REPORT_S:
                return "silent"
            if live:
                draw(rig.last_report())
            elif not args.console and now - shown_at >= PLAIN_S and rig.last_report() is not None:
                shown_at = now
                print(plain_line(rig, deadline), flush=True)
            pressed = key(min(FRAME_S, max(0.0, deadline - now)))
            if pressed == "q":
                return "stopped"
            if pressed == "t":
                board.toggle()

    with keys(live) as key:
        try:
            ended = until_the_end(key)
        except KeyboardInterrupt:
            ended = "stopped"
    last = rig.last_report()
    if live:
        draw(last)
        screen.close()
    return ended, last


def plain_line(rig: SimRig, deadline: float) -> str:
    report = rig.last_report()
    assert report is not None
    f = Figures.of(report, rig.spec.i2c_hz)
    return (f"{dashboard.clock(f.elapsed_s)}: {f.accepted} accepted, {f.rejected} rejected, {f.lost} lost, "
            f"{f.shares_per_s:.2f} shares/s; {dashboard.clock(deadline - time.monotonic())} left")


@contextlib.contextmanager
def keys(live: bool) -> Iterator[Callable[[float], str | None]]:
    """A function that waits up to its argument in seconds for a key. On a
    terminal, keys arrive unechoed and without Enter; Ctrl-C still signals."""
    if not (live and sys.stdin.isatty()):
        yield lambda timeout: time.sleep(timeout)
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read(timeout: float) -> str | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="replace") if ready else None

    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def failed(ended: str, code: int | None, last: Report | None, log: list[str] | None) -> list[str]:
    """Lines saying why the controller failed ([] if it did not): it
    exited by itself, with an error, or never reported. In the console
    (log None) q stops it: an exit after its first report is no failure.
    log: the end of its log."""
    when = "before its first report" if last is None else "while mining"
    if ended == "exited" and (log is not None or last is None or code != 0):
        head = f"ducorig sim: the controller stopped {when} (exit code {code})"
    elif code not in (0, None):
        head = f"ducorig sim: the controller's exit code was {code} when stopped"
    elif last is None:
        head = "ducorig sim: no report from the controller" + (
            f" in {FIRST_REPORT_S:.0f} s" if ended == "silent" else " before the time was up")
    else:
        return []
    if log is None:
        return [head + ": its output is above"]
    return [head + "; the end of its log:", *("  " + line for line in log)]


def log_tail(path: Path) -> list[str]:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError as e:
        return [f"(no log: {e})"]
    return lines[-LOG_TAIL:] or ["(the log is empty)"]

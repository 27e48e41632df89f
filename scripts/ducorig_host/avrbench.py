"""`ducorig bench avr`: the Pro Mini DUCO-S1 core (firmware/minipro) in simavr.

Builds the benchmark image and the sketch with `make -C firmware/minipro` for
16 and 8 MHz, runs seeded diff-8 jobs in the ducosim harness (the bare core)
and through the sketch's I2C protocol in the avrsim harness, and reports exact
cycle counts (simavr is cycle-exact and deterministic, so these are not
wall-clock figures). Everything comes from Debian's avr-gcc (5.4); the Arduino
IDE ships 7.3, which only changes the C++ around the assembler core."""
from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ducorig import proto
from ducorig_host.bench import Progress, print_figures
from ducorig_host.simbus.avr import APT_PACKAGES, missing_tools

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware" / "minipro"
HARNESS = FIRMWARE / "build" / "ducosim"
# The official Arduino_Code duco_hash (revoxhere/duino-coin), Debian avr-gcc 5.4, Timer0 on.
OFFICIAL_CYCLES_PER_HASH = 47_719
BENCH_DIFF = 8
FREQUENCIES = (16_000_000, 8_000_000)
STEPS = 2 * len(FREQUENCIES) + 2  # the builds, the bare core at each clock, the sketch capped and flat
DEFAULT_RUN = "{time} once built: 24 seeded jobs through the bare core at 16 and 8 MHz and through the sketch"


def build(f_cpu: int = 16_000_000) -> Path:
    """Builds the image for f_cpu and the harness; returns the image's path."""
    proc = subprocess.run(["make", "-C", str(FIRMWARE), f"F_CPU={f_cpu}", "all", "sim"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"make -C {FIRMWARE} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return FIRMWARE / "build" / str(f_cpu) / "bench.elf"


@dataclass(frozen=True)
class Job:
    last_hash: str
    expected: str      # hex
    diff: int
    nonce: int | None  # the answer, None if no nonce in 0..100*diff hits

    @property
    def max_nonce(self) -> int:
        return 100 * self.diff


def make_job(rng: random.Random, diff: int, nonce: int | None) -> Job:
    """A job whose answer is nonce; None: the target is the first nonce past the range."""
    last_hash = rng.getrandbits(160).to_bytes(20, "big").hex()
    hashed = 100 * diff + 1 if nonce is None else nonce
    return Job(last_hash, hashlib.sha1(f"{last_hash}{hashed}".encode()).hexdigest(), diff, nonce)


class AvrSim:
    """One ducosim process running one image; jobs run one after another."""

    def __init__(self, elf: Path, f_cpu: int = 16_000_000):
        self._proc = subprocess.Popen([str(HARNESS), "-f", str(f_cpu), str(elf)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        self._reply("READY")

    def search(self, last_hash: str, expected: str, first: int, last: int, chunk: int) -> tuple[int | None, int]:
        """Mines nonces first..last in duco_search calls of chunk nonces: (nonce or None, cycles)."""
        self._proc.stdin.write(f"J {last_hash} {expected} {first} {last} {chunk}\n")
        self._proc.stdin.flush()
        _, nonce, cycles = self._reply("R").split()
        return (None if nonce == "-1" else int(nonce)), int(cycles)

    def mine(self, job: Job, chunk: int | None = None) -> tuple[int | None, int]:
        return self.search(job.last_hash, job.expected, 0, job.max_nonce, chunk or job.max_nonce + 1)

    def _reply(self, tag: str) -> str:
        # libsimavr prints its own lines on stdout too: skip them.
        for line in self._proc.stdout:
            if line.split(" ", 1)[0].strip() == tag:
                return line.strip()
        raise RuntimeError(f"ducosim exited with {self._proc.wait()} (see its stderr)")

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=10)

    def __enter__(self) -> AvrSim:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bench_jobs(count: int, seed: int) -> list[Job]:
    rng = random.Random(seed)
    return [make_job(rng, BENCH_DIFF, rng.randint(0, 100 * BENCH_DIFF)) for _ in range(count)]


def cycles_per_hash(elf: Path, f_cpu: int, jobs: list[Job]) -> float:
    """Cycles from job start to the found nonce over nonce + 1, summed over the
    jobs first (a hash-weighted mean: what back-to-back jobs achieve)."""
    cycles = hashes = 0
    with AvrSim(elf, f_cpu) as sim:
        for job in jobs:
            nonce, spent = sim.mine(job)
            if nonce != job.nonce:
                raise RuntimeError(f"wrong nonce {nonce} for {job}")
            cycles += spent
            hashes += nonce + 1
    return cycles / hashes


def image_size(elf: Path) -> tuple[int, int]:
    """(flash, RAM) bytes as the Arduino IDE counts them: .text + .data, .data + .bss."""
    out = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sections = {parts[0]: int(parts[1]) for parts in map(str.split, out.splitlines()) if len(parts) == 3
                and parts[1].isdigit()}
    return sections.get(".text", 0) + sections.get(".data", 0), sections.get(".data", 0) + sections.get(".bss", 0)


def sketch_figures(elf: Path, f_cpu: int, jobs: list[Job], cap: int) -> dict[str, float]:
    """The jobs through the sketch's I2C protocol (avrsim, lockstep) with rate cap
    `cap` (0: none): active (not sleeping) CPU cycles per share, from the job's
    O frame to the result, mean; the true rate from the GPIOR0 marks around
    the hashing; cycles per hash between those marks."""
    from ducorig_host.simbus import avr

    address = 0x10
    active = cycles = hashes = 0
    with tempfile.TemporaryDirectory(prefix="ducorig-bench-") as tmp:
        eeprom = Path(tmp) / "eeprom.bin"
        eeprom.write_bytes(avr.factory_eeprom(address))
        with avr.Harness(elf, eeprom, f_cpu=f_cpu) as sim:
            sim.run_until_armed()
            sim.write(address, proto.rate_cap_frame(cap))
            for job in jobs:
                *head, last = proto.job_frames(job.last_hash.encode(), job.expected.encode(), job.diff)
                for frame in head:
                    sim.write(address, frame)
                marks, before = len(sim.marks), sim.state
                sim.write(address, last)
                while not any(m[0] == avr.MARK_END for m in sim.marks[marks:]):
                    sim.run_us(20_000)
                sim.write(address, proto.STATUS)  # the mark comes just before the result is published
                while sim.read(address, proto.STATUS_LEN)[1][0] == proto.BUSY:
                    sim.run_us(200)
                sim.write(address, proto.RESULT)
                state, nonce, _ = proto.parse_result(sim.read(address, proto.RESULT_LEN)[1])
                if (state, nonce) != (proto.FOUND, job.nonce):
                    raise RuntimeError(f"the sketch answered {chr(state)} {nonce} for {job}")
                start = next(m for m in sim.marks[marks:] if m[0] == avr.MARK_START)
                end = next(m for m in sim.marks[marks:] if m[0] == avr.MARK_END)
                active += (end[1] - before.cycle) - (end[2] - before.sleep_cycles)
                cycles += end[1] - start[1]
                hashes += nonce + 1
    return {"active_cycles_per_share": active / len(jobs), "true_hs": hashes * f_cpu / cycles,
            "cycles_per_hash": cycles / hashes}


def compiler() -> str:
    version = subprocess.run(["avr-gcc", "-dumpversion"], capture_output=True, text=True, check=True).stdout
    return f"avr-gcc {version.strip()} (Debian gcc-avr)"


def figures(jobs: int = 24, seed: int = 8) -> dict[str, object]:
    progress = Progress("avr", STEPS, run_time_s(jobs) / STEPS, unit="step")
    job_set = bench_jobs(jobs, seed)
    images = {}
    for f in FREQUENCIES:
        progress.step(f"build for {f // 1_000_000} MHz")
        images[f] = build(f)
    per_hash = {}
    for f in FREQUENCIES:
        progress.step(f"{jobs} jobs on the bare core at {f // 1_000_000} MHz")
        per_hash[f] = cycles_per_hash(images[f], f, job_set)
    flash, ram = image_size(images[16_000_000])
    sketch = images[16_000_000].with_name("minipro.elf")
    sketch_flash, sketch_ram = image_size(sketch)
    progress.step(f"{jobs} jobs through the sketch, rate cap {proto.DEFAULT_RATE_CAP} H/s")
    capped = sketch_figures(sketch, 16_000_000, job_set, proto.DEFAULT_RATE_CAP)
    progress.step("4 jobs through the sketch, no rate cap")
    flat = sketch_figures(sketch, 16_000_000, job_set[:4], 0)
    progress.done()
    return {
        "cycles_per_hash": round(per_hash[16_000_000], 1),
        "hs_16mhz": round(16e6 / per_hash[16_000_000], 1),
        "hs_8mhz": round(8e6 / per_hash[8_000_000], 1),
        "flash_bytes": flash,
        "ram_bytes": ram,
        "compiler": compiler(),
        # The sketch (minipro.ino) with its default rate cap, jobs sent over I2C:
        # the CPU sleeps between nonces, and these are the cycles it is awake.
        "active_cycles_per_share": round(capped["active_cycles_per_share"]),
        "cap_hs": proto.DEFAULT_RATE_CAP,
        "capped_true_hs": round(capped["true_hs"], 2),
        "sketch_cycles_per_hash": round(flat["cycles_per_hash"], 1),  # flat out (W0), with the I2C loop
        "sketch_flash_bytes": sketch_flash,
        "sketch_ram_bytes": sketch_ram,
        "jobs": jobs,
        "diff": BENCH_DIFF,
        "hashes": sum(job.nonce + 1 for job in job_set),
        "official_cycles_per_hash": OFFICIAL_CYCLES_PER_HASH,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=24, help=f"seeded diff-{BENCH_DIFF} jobs (default 24)")
    parser.add_argument("--seed", type=int, default=8,
                        help="seed of the random jobs: the same seed gives the same jobs (default 8)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_time_s(jobs: int) -> float:
    """Once built (a first build takes ~20 s more): the job sets in simavr, about."""
    return 1.0 + jobs / 8


def estimate_s(args: argparse.Namespace) -> float:
    return run_time_s(args.jobs)


def run(args: argparse.Namespace) -> int:
    missing = missing_tools()
    if missing:
        print(f"ducorig bench avr: missing {', '.join(missing)}; apt-get install {' '.join(APT_PACKAGES)}",
              file=sys.stderr)
        return 1
    if args.jobs < 4:
        print("ducorig bench avr: --jobs must be at least 4 (the flat run takes the first 4)", file=sys.stderr)
        return 2
    try:
        result = figures(args.jobs, args.seed)
    except RuntimeError as e:  # a build that failed, a wrong nonce, simavr gone
        print(f"ducorig bench avr: {e}", file=sys.stderr)
        return 1
    print_figures(result, args.json)
    return 0

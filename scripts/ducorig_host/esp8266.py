"""Projecting unix-port measurements onto the ESP8266
(shared/micropython-esp8266.md, Appendix)."""
from __future__ import annotations

# ESP8266 time ~ 600x unix-port time at 160 MHz (range 400-900x).
CPU_FACTOR = 600


def load(cpu_s: float, wire_us: float, wall_s: float) -> float:
    """Share of the ESP8266's time the controller would be busy: its CPU time
    scaled by the factor, plus every bit-banged I2C transfer (they block)."""
    return (cpu_s * CPU_FACTOR + wire_us / 1e6) / wall_s if wall_s > 0 else 0.0


def efficiency(ideal_s: float, overhead_s: float, cpu_per_share_s: float, esp_load: float) -> float:
    """Projected share of the ideal share rate on an ESP8266:

        ideal / (ideal + overhead + cpu_per_share * (factor - 1) + queueing)

    The unix overhead already holds the unix CPU time once; the chip needs
    factor - 1 times more. Queueing: with the controller busy a fraction rho
    of the time (M/M/1), a share waits rho / (1 - rho) of its own service
    time, the per-share ESP CPU time."""
    service = cpu_per_share_s * CPU_FACTOR
    rho = min(esp_load, 0.99)
    queueing = service * rho / (1 - rho)
    return ideal_s / (ideal_s + overhead_s + cpu_per_share_s * (CPU_FACTOR - 1) + queueing)

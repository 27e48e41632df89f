# Two commands do all the set-up: `make sim` and `make test`.
# Each creates/updates .venv and installs what it needs by package name.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: sim test deps system clean

# make sim ARGS='--slaves 20 --minutes 1': any `ducorig sim` options
sim: $(STAMP)
	$(BIN)/ducorig sim $(ARGS)

test: system $(STAMP)
	$(BIN)/python -m pytest

# What pip cannot install: as root on Debian it installs itself (make deps);
# elsewhere it says what to run (the AVR, chip-bench and 80x24 dashboard
# tests skip without it, fail under CI).
system:
	@if command -v avr-gcc >/dev/null && pkg-config --exists simavr 2>/dev/null \
	    && [ -d /usr/share/arduino/hardware/arduino/avr/cores/arduino ] \
	    && command -v arduino-builder >/dev/null && [ -f /usr/share/arduino/Arduino.mk ] \
	    && command -v valgrind >/dev/null && command -v callgrind_control >/dev/null \
	    && command -v tmux >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then $(MAKE) deps; \
	else echo "note: the AVR tool chain, valgrind or tmux is missing: run 'sudo make deps'"; fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# System packages (Debian/Ubuntu, as root or with sudo): what pip cannot install.
deps:
	apt-get update
	apt-get install -y --no-install-recommends make python3 python3-venv python3-pip \
		gcc libc6-dev pkg-config gcc-avr avr-libc binutils-avr arduino-core-avr simavr libsimavr-dev libelf-dev \
		arduino-mk valgrind tmux

clean:
	rm -rf $(VENV) build *.egg-info

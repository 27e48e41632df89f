# Two commands do all the set-up: `make sim` and `make test`.
# Each creates/updates .venv and installs what it needs by package name.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: sim test deps clean

sim: $(STAMP)
	$(BIN)/ducorig sim

test: $(STAMP)
	$(BIN)/python -m pytest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# System packages (Debian/Ubuntu, as root or with sudo): what pip cannot install.
deps:
	apt-get update
	apt-get install -y --no-install-recommends make python3 python3-venv python3-pip \
		gcc libc6-dev pkg-config gcc-avr avr-libc binutils-avr arduino-core-avr libsimavr-dev libelf-dev

clean:
	rm -rf $(VENV) build *.egg-info

# tcpip-lab3: every user-facing task. `make help` lists them.
#
# Parts run by hand talk to HOST (default tcpip.epfl.ch, the course server);
# `make demo` and `make test` talk to lab_server on loopback only.

CARGO   ?= cargo
BIN     := target/release
HOST    ?= tcpip.epfl.ch
CMD     ?= CMD_short:0
PYTHON  ?= python3

BINARIES := part1_echo part2_pdc part3_reset lab_server

.PHONY: help all build test lint fmt demo server part1-server part1-client part2 part3 bench

all: build

help:
	@echo "make build             release build of every binary (in $(BIN)/)"
	@echo "make test              the whole test suite (what CI runs)"
	@echo "make lint              rustfmt --check and clippy -D warnings"
	@echo "make demo              lab_server on loopback, every part run against it"
	@echo "make server            lab_server in the foreground, lab ports, loopback"
	@echo "make part2 CMD=...     Part 2 PDC against HOST (default $(HOST))"
	@echo "make part3             Part 3 reset client against HOST"
	@echo "make bench             benchmarks, side by side with socat"

build:
	$(CARGO) build --release --workspace --bins

test:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

demo: build
	bash scripts/demo.sh $(BIN)

server: build
	$(BIN)/lab_server

part2: build
	$(BIN)/part2_pdc --host $(HOST) $(CMD)

part3: build
	$(BIN)/part3_reset --host $(HOST)

bench: build
	$(PYTHON) bench/bench.py --bin-dir $(BIN)

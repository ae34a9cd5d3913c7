# tcpip-lab3: every user-facing task. `make help` lists them.
#
# Parts run by hand talk to HOST (default tcpip.epfl.ch, the course server);
# `make demo` and `make test` talk to lab_server on loopback only.

CARGO   ?= cargo
BIN     := target/release
HOST    ?= tcpip.epfl.ch
CMD     ?= CMD_short:0
PYTHON  ?= python3

BINARIES := part1_echo part2_pdc part3_reset part4_receiver part4_sender part5_ws part6_pmu secure_cmd cbc_msg lab_server

.PHONY: help all build test lint fmt demo server part1-server part1-client part2 part3 part4-receiver part4-sender part5 bench key csr test-ca test-cert part6 fuzz fuzz-tools fuzz-cmin

all: build

help:
	@echo "make build             release build of every binary (in $(BIN)/)"
	@echo "make test              the whole test suite (what CI runs)"
	@echo "make lint              rustfmt --check and clippy -D warnings"
	@echo "make demo              lab_server on loopback, every part run against it"
	@echo "make server            lab_server in the foreground, lab ports, loopback"
	@echo "make part2 CMD=...     Part 2 PDC against HOST (default $(HOST))"
	@echo "make part3             Part 3 reset client against HOST"
	@echo "make part4-receiver    Part 4 receiver on 224.1.1.1:5005 [IFACE=an IPv4 address of the interface]"
	@echo "make part4-sender ID=… Part 4 sender: each line typed becomes one datagram [IFACE=…]"
	@echo "make part5 CMD=...     Part 5 WebSocket PDC against ws://HOST:5006"
	@echo "make key csr CAMIPRO1=…  Part 6 key certs/<C1>_key.pem (RSA 2048) and request certs/<C1>.csr"
	@echo "make test-ca test-cert CAMIPRO1=…  a local test CA (certs/test-ca.crt), and certs/<C1>_test_cert.pem"
	@echo "make part6 CAMIPRO1=…  Part 6 TLS PMU server on port 5003 with certs/<C1>_cert.pem (or CERT=… KEY=…)"
	@echo "make submission CAMIPRO1=… CAMIPRO2=…  Lab3_<C1>_<C2>/ and .zip, the executables under the course's names (built for glibc $(GLIBC_MAX))"
	@echo "make dist              release archives for Linux, macOS and Windows in dist/, with SHA256SUMS"
	@echo "make cross-check       the workspace checked for macOS, Windows, Linux aarch64; the hand-in's glibc (CI)"
	@echo "make grade [BIN_DIR=…]  lab_grader: every part against lab_server on loopback, a table and a score"
	@echo "make report            the lab's experiments (as root: Q9-Q21 across a simulated path); the answers in REPORT.md"
	@echo "make bench             one table: the clients beside socat, websocket-client, python ssl"
	@echo "make fuzz              every fuzz target for FUZZ_SECONDS (60) each (nightly; installs cargo-fuzz)"

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
	bash dev/scripts/demo.sh $(BIN)

server: build
	$(BIN)/lab_server

part2: build
	$(BIN)/part2_pdc --host $(HOST) $(CMD)

part3: build
	$(BIN)/part3_reset --host $(HOST)

# Part 4 joins the course's group 224.1.1.1:5005; IFACE is the interface to
# join on and send through, as one of its IPv4 addresses (default: the
# kernel's choice, the interface of the route to the group).
IFACE   ?= any
ID      ?=

part4-receiver: build
	$(BIN)/part4_receiver --interface $(IFACE)

part4-sender: build
	@case "$(ID)" in ??????) ;; *) echo "make part4-sender: give your 6-character ID: make part4-sender ID=123456" >&2; exit 2;; esac
	$(BIN)/part4_sender --id '$(ID)' --interface $(IFACE)

part5: build
	$(BIN)/part5_ws --url ws://$(HOST):5006 $(CMD)

# Part 6: the private key, CSR and certificates, in $(CERTS) (git-ignored but
# for openssl.cnf), named as the handout names them after CAMIPRO1: the key
# <C1>_key.pem, the request <C1>.csr, the certificate the course CA returns
# <C1>_cert.pem, the course CA's certificate cacert.pem. The local test CA
# and its certificate have names that cannot be taken for the course's
# (test-ca.crt, <C1>_test_cert.pem). The subject's fields default to what
# the course CA signed (C=CH, ST=VAUD, L=Lausanne, O=EPFL, CN=<C1>) and can
# be overridden (make csr CAMIPRO1=123456 CERT_OU=Lab3 ...).
CERTS    ?= certs
SSL_CNF  ?= certs/openssl.cnf
OPENSSL  ?= openssl
CERT_C   ?= CH
CERT_ST  ?= VAUD
CERT_L   ?= Lausanne
CERT_O   ?= EPFL
CERT_OU  ?=
CERT_CN  ?= $(CAMIPRO1)
KEY      ?= $(CERTS)/$(CAMIPRO1)_key.pem
CERT     ?= $(CERTS)/$(CAMIPRO1)_cert.pem
TEST_DAYS ?= 30
need-camipro = @case "$(CAMIPRO1)" in ''|*[!0-9]*) echo "make $@: give your CAMIPRO number: make $@ CAMIPRO1=123456" >&2; exit 2;; esac

key:
	$(need-camipro)
	@mkdir -p $(CERTS)
	@if [ -e $(CERTS)/$(CAMIPRO1)_key.pem ]; then \
	    echo "$(CERTS)/$(CAMIPRO1)_key.pem exists: kept (a new key would not match the certificate signed for it; delete it first to start over)"; \
	else \
	    (umask 077 && $(OPENSSL) genrsa -out $(CERTS)/$(CAMIPRO1)_key.pem 2048) && \
	    echo "$(CERTS)/$(CAMIPRO1)_key.pem: RSA 2048, keep it private"; \
	fi

csr: key
	$(OPENSSL) req -new -config $(SSL_CNF) -key $(CERTS)/$(CAMIPRO1)_key.pem \
	    -subj "/C=$(CERT_C)/ST=$(CERT_ST)/L=$(CERT_L)/O=$(CERT_O)$(if $(CERT_OU),/OU=$(CERT_OU))/CN=$(CERT_CN)" \
	    -out $(CERTS)/$(CAMIPRO1).csr
	@$(OPENSSL) req -in $(CERTS)/$(CAMIPRO1).csr -noout -subject
	@echo "$(CERTS)/$(CAMIPRO1).csr: send it to the course CA; save the certificate it returns as $(CERTS)/$(CAMIPRO1)_cert.pem and the CA's own (Moodle) as $(CERTS)/cacert.pem"

test-ca:
	@mkdir -p $(CERTS)
	@if [ -e $(CERTS)/test-ca.crt ]; then echo "$(CERTS)/test-ca.crt exists: kept"; else \
	    (umask 077 && $(OPENSSL) req -x509 -new -newkey rsa:2048 -nodes -sha256 -days $(TEST_DAYS) \
	        -config $(SSL_CNF) -extensions test_ca -subj "/CN=tcpip-lab3 test CA" \
	        -keyout $(CERTS)/test-ca.key -out $(CERTS)/test-ca.crt 2>$(CERTS)/.openssl.log \
	        || { cat $(CERTS)/.openssl.log >&2; exit 1; }) && rm -f $(CERTS)/.openssl.log && \
	    echo "$(CERTS)/test-ca.crt: a local CA for tests, valid $(TEST_DAYS) days"; \
	fi

test-cert: csr test-ca
	$(OPENSSL) x509 -req -in $(CERTS)/$(CAMIPRO1).csr -CA $(CERTS)/test-ca.crt \
	    -CAkey $(CERTS)/test-ca.key -CAserial $(CERTS)/test-ca.srl -CAcreateserial \
	    -days $(TEST_DAYS) -sha256 -extfile $(SSL_CNF) -extensions test_cert \
	    -out $(CERTS)/$(CAMIPRO1)_test_cert.pem
	@echo "$(CERTS)/$(CAMIPRO1)_test_cert.pem: signed by the local test CA (not the course's). Try it:"
	@echo "  make part6 CAMIPRO1=$(CAMIPRO1) CERT=$(CERTS)/$(CAMIPRO1)_test_cert.pem"
	@echo "  $(BIN)/part6_pmu client --ca $(CERTS)/test-ca.crt CMD_short:0"

# The course CA's certificate and key by default; CERT=… KEY=… for others.
part6: build
	@if [ ! -f "$(CERT)" ] || [ ! -f "$(KEY)" ]; then \
	    echo "make part6: no $(CERT) or $(KEY): save the course CA's answer as certs/<C1>_cert.pem (make part6 CAMIPRO1=123456), or give CERT=… KEY=… (make test-cert makes certs/<C1>_test_cert.pem)" >&2; exit 2; fi
	$(BIN)/part6_pmu $(CERT) $(KEY)

# The course's workflow: hand in, grade, answer. lab_grader grades the
# built executables (BIN_DIR, default $(BIN)) or a submission folder
# (make grade BIN_DIR=Lab3_123456_654321), on loopback only.
.PHONY: submission grade report
BIN_DIR ?= $(BIN)

# The hand-in runs on the course's Linux machines, whatever their glibc: it
# is linked by Zig against glibc $(GLIBC_MAX) (cargo-zigbuild), into its own
# folder $(HANDIN_BIN), and checked (dev/scripts/check_glibc.sh) before zipping.
submission:
	@bash dev/scripts/submission.sh --check '$(CAMIPRO1)' '$(CAMIPRO2)'
	@bash dev/scripts/portable_tools.sh --tools $(TOOLS) --for "make submission" $(HANDIN_TARGET)
	$(ZIGENV) $(CARGO) zigbuild --release --target $(HANDIN_TARGET) $(HANDIN_BINS:%=--bin %)
	bash dev/scripts/submission.sh --bin-dir $(HANDIN_BIN) --glibc-max $(GLIBC_MAX) --certs $(CERTS) --report . --out . '$(CAMIPRO1)' '$(CAMIPRO2)'

# Portable builds (README, "Other systems"): Zig and cargo-zigbuild from
# PyPI in $(TOOLS)/venv (git-ignored), the targets' standard libraries with
# rustup; dev/scripts/portable_tools.sh installs what is missing, or stops.
TOOLS         ?= .tools
# No RUSTC_WRAPPER (sccache): its server runs rustc without this PATH, and
# the Windows import-library step (Zig's dlltool) then cannot find Zig.
ZIGENV        := PATH="$(abspath $(TOOLS))/venv/bin:$$PATH" RUSTC_WRAPPER=
GLIBC_MAX     := 2.17
HANDIN_TARGET := x86_64-unknown-linux-gnu.$(GLIBC_MAX)
HANDIN_BIN    := $(or $(CARGO_TARGET_DIR),target)/x86_64-unknown-linux-gnu/release
HANDIN_BINS   := part2_pdc part3_reset part4_receiver part4_sender part5_ws part6_pmu
CROSS_TARGETS ?= x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu aarch64-unknown-linux-gnu

.PHONY: dist cross-check handin-check
dist:
	bash dev/scripts/dist.sh --tools $(TOOLS) --out dist

# CI: every crate, tests included, type-checked for the other systems (a
# compile error or a warning on macOS or Windows fails: code behind a
# Linux-only `cfg` leaves dead code elsewhere), then the hand-in built as
# `make submission` builds it and its glibc requirement checked. lab_grader
# is the teaching staff's tool and grades on Linux only (network
# namespaces, its sandbox, the report's simulated path): not checked there.
cross-check: handin-check
	@bash dev/scripts/portable_tools.sh --tools $(TOOLS) --for "make $@" $(CROSS_TARGETS)
	@set -e; for t in $(CROSS_TARGETS); do \
	    echo "make $@: cargo check --target $$t"; \
	    $(ZIGENV) RUSTFLAGS="-D warnings" cargo-zigbuild check --target $$t --workspace --exclude lab_grader --all-targets; \
	done

handin-check:
	@bash dev/scripts/portable_tools.sh --tools $(TOOLS) --for "make $@" $(HANDIN_TARGET)
	bash dev/scripts/check_glibc.sh --max $(GLIBC_MAX) --self-test
	$(ZIGENV) $(CARGO) zigbuild --release --target $(HANDIN_TARGET) $(HANDIN_BINS:%=--bin %)
	bash dev/scripts/check_glibc.sh --max $(GLIBC_MAX) $(HANDIN_BINS:%=$(HANDIN_BIN)/%)

grade: build
	$(BIN)/lab_grader --bin-dir $(BIN_DIR)

report: build
	$(BIN)/lab_grader report --bin-dir $(BIN) --out REPORT.md

bench: build
	$(PYTHON) dev/bench/bench.py --bin-dir $(BIN)

# Fuzzing (docs/HARDENING.md): cargo-fuzz on the nightly toolchain, in dev/fuzz/,
# which is not a workspace member, so stable builds and CI never see it.
# Each target runs FUZZ_SECONDS from the committed corpus dev/fuzz/corpus/<target>
# (read only); what it finds on the way goes to dev/fuzz/target/work/<target>
# (git-ignored), crashes to dev/fuzz/artifacts/<target>. `make test` replays the
# committed corpus on stable through the same harness functions.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= command reset splitter mcast_frame cbc_frame secure_request

fuzz-tools:
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-tools
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p dev/fuzz/target/work/$$t; \
	    echo "make fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(CARGO) +nightly fuzz run --fuzz-dir dev/fuzz $$t dev/fuzz/target/work/$$t dev/fuzz/corpus/$$t -- \
	        -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	done

# Shrinks a target's committed corpus to the inputs that add coverage:
# make fuzz-cmin FUZZ_TARGETS=splitter
fuzz-cmin: fuzz-tools
	@set -e; for t in $(FUZZ_TARGETS); do \
	    $(CARGO) +nightly fuzz cmin --fuzz-dir dev/fuzz $$t dev/fuzz/corpus/$$t; \
	done

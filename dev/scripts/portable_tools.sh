#!/usr/bin/env bash
# Installs what portable builds need (make submission, make dist, make
# cross-check), nothing by hand:
#
# - Zig (PyPI's `ziglang`) and `cargo-zigbuild` (PyPI's prebuilt wheel of
#   the crates.io tool) into a Python virtual environment, TOOLS/venv
#   (default .tools/, git-ignored), pinned below;
# - the Rust standard library of each TARGET, with `rustup target add`.
#
#   dev/scripts/portable_tools.sh [--tools .tools] [--for "make submission"] TARGET...
#
# A TARGET may carry a glibc version (x86_64-unknown-linux-gnu.2.17), as
# cargo-zigbuild takes it. Already installed: says nothing. Cannot install:
# says what is missing and exits 1, so that the caller stops rather than
# build with this machine's own linker and glibc.
set -euo pipefail

ZIGLANG="ziglang==0.17.1"
CARGO_ZIGBUILD="cargo-zigbuild==0.24.1"

NAME="portable_tools"
TOOLS=.tools
FOR=""
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tools) TOOLS=${2:?}; shift ;;
        --for) FOR=${2:?}; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "$NAME: error: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1") ;;
    esac
    shift
done
[ -z "$FOR" ] || NAME=$FOR
fail() {
    echo "$NAME: error: $*" >&2
    echo "$NAME: error: stopping: without these tools the executables would be built for this machine only (its glibc, its OS)" >&2
    exit 1
}

VENV="$TOOLS/venv"
PINS="$ZIGLANG $CARGO_ZIGBUILD"
if [ ! -x "$VENV/bin/cargo-zigbuild" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
    command -v python3 >/dev/null 2>&1 || fail "python3 is not installed (it installs Zig and cargo-zigbuild from PyPI)"
    echo "$NAME: installing $ZIGLANG and $CARGO_ZIGBUILD into $VENV (PyPI)"
    rm -rf "$VENV"
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV" >"$TOOLS/install.log" 2>&1 ||
        fail "cannot make a Python virtual environment in $VENV (on Debian/Ubuntu: apt-get install python3-venv); see $TOOLS/install.log"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet $PINS >>"$TOOLS/install.log" 2>&1 ||
        fail "cannot install $PINS from PyPI into $VENV (offline? see $TOOLS/install.log)"
    "$VENV/bin/python" -m ziglang version >/dev/null 2>&1 || fail "Zig from $ZIGLANG does not run here; see $TOOLS/install.log"
    echo "$PINS" >"$VENV/.pins"
fi

[ ${#TARGETS[@]} -gt 0 ] || exit 0
if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup target list --installed)
    missing=()
    for t in "${TARGETS[@]}"; do
        t=${t%.2.*}
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "$NAME: rustup target add ${missing[*]}"
        rustup target add "${missing[@]}" || fail "rustup cannot add the standard library for ${missing[*]} (offline?)"
    fi
else
    for t in "${TARGETS[@]}"; do
        t=${t%.2.*}
        [ -d "$(rustc --print sysroot)/lib/rustlib/$t/lib" ] ||
            fail "no Rust standard library for $t, and no rustup to add it (install Rust with rustup: https://rustup.rs)"
    done
fi

#!/usr/bin/env bash
# Checks that Linux executables start on an older Linux: each FILE is an
# x86-64 or aarch64 ELF executable that is statically linked or whose
# dynamic symbols need glibc MAX at most (the GLIBC_x.y versions that
# `objdump -T` lists; the dynamic loader refuses to start a program that
# needs a newer one: "version `GLIBC_2.34' not found").
#
#   dev/scripts/check_glibc.sh [--max 2.17] FILE...
#   dev/scripts/check_glibc.sh --self-test
#
# --self-test links a one-line C program with this machine's gcc and checks
# that the check rejects it when this machine's glibc is newer than MAX
# (proof that the check can fail). Exit 0: all good; 1: an executable needs
# a newer glibc (or is no ELF executable); 2: usage error or no objdump.
set -euo pipefail

NAME="check_glibc"
usage_error() { echo "$NAME: error: $*" >&2; exit 2; }
fail() { echo "$NAME: error: $*" >&2; exit 1; }

MAX=2.17
SELF_TEST=0
FILES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --max) MAX=${2:?--max needs a version such as 2.17}; shift ;;
        --self-test) SELF_TEST=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *) FILES+=("$1") ;;
    esac
    shift
done
[[ "$MAX" =~ ^[0-9]+\.[0-9]+$ ]] || usage_error "--max '$MAX' is not a glibc version such as 2.17"
command -v objdump >/dev/null 2>&1 ||
    usage_error "objdump is not installed (binutils: apt-get install binutils); it reads the executables' symbol versions"

# Whether version $1 is above version $2 (both x.y[.z]).
newer() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]; }

# Prints nothing if FILE is fine, else the reason.
verdict() {
    local file=$1 header dynamic needed worst
    [ -f "$file" ] || { echo "no such file"; return; }
    # The ELF header itself says the machine: a Debian x86-64 objdump has no
    # aarch64 support and calls such a file just "elf64-little", yet reads
    # its symbol versions all the same. Magic, 64-bit, little-endian, then
    # e_machine at byte 18: 3e 00 (x86-64) or b7 00 (aarch64).
    header=$(od -An -tx1 -N20 "$file" 2>/dev/null | tr -s ' \n' ' ')
    case "$header" in
        " 7f 45 4c 46 02 01 "*" 3e 00 "|" 7f 45 4c 46 02 01 "*" b7 00 ") ;;
        *) echo "not a 64-bit x86-64 or aarch64 ELF executable"; return ;;
    esac
    objdump -f "$file" >/dev/null 2>&1 || { echo "not an ELF executable objdump can read"; return; }
    # A static executable has no dynamic symbols: nothing to check.
    dynamic=$(objdump -T "$file" 2>/dev/null) || return 0
    needed=$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$dynamic" | sed 's/^GLIBC_//' | sort -u -V || true)
    [ -n "$needed" ] || return 0
    worst=$(tail -n 1 <<<"$needed")
    if newer "$worst" "$MAX"; then
        local symbols
        symbols=$(grep -E "GLIBC_${worst//./\\.}\)?[[:space:]]" <<<"$dynamic" | awk '{print $NF}' | sort -u | head -n 5 | paste -sd, - | sed 's/,/, /g')
        echo "needs glibc $worst ($symbols), so it would not start on a Linux with glibc $MAX (\"version \`GLIBC_$worst' not found\"); build it with \`cargo zigbuild --target x86_64-unknown-linux-gnu.$MAX\` (make submission does)"
    fi
}

if [ "$SELF_TEST" -eq 1 ]; then
    command -v gcc >/dev/null 2>&1 || usage_error "--self-test needs gcc"
    host=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    [ -n "$host" ] || usage_error "--self-test needs a glibc system (getconf GNU_LIBC_VERSION)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$tmp/hello.c"
    gcc -O2 -o "$tmp/hello" "$tmp/hello.c"
    why=$(verdict "$tmp/hello")
    built=$(objdump -T "$tmp/hello" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n 1)
    if newer "$built" "$MAX"; then
        [ -n "$why" ] || fail "self-test: a program linked here needs glibc $built > $MAX, yet the check let it pass"
        echo "$NAME: self-test: a program linked against this machine's glibc $host (needs $built) is rejected: $why"
    else
        [ -z "$why" ] || fail "self-test: a program that needs glibc $built <= $MAX was rejected: $why"
        echo "$NAME: self-test: this machine's glibc $host links programs needing only $built <= $MAX: accepted, as it should (the rejection path is not exercised here)"
    fi
    gcc -O2 -static -o "$tmp/hello-static" "$tmp/hello.c" 2>/dev/null && {
        why=$(verdict "$tmp/hello-static")
        [ -z "$why" ] || fail "self-test: a static program was rejected: $why"
        echo "$NAME: self-test: a static program is accepted"
    }
    exit 0
fi

[ ${#FILES[@]} -gt 0 ] || usage_error "give the executables to check: dev/scripts/check_glibc.sh --max 2.17 FILE..."
bad=0
for f in "${FILES[@]}"; do
    why=$(verdict "$f")
    if [ -n "$why" ]; then
        echo "$NAME: error: $f: $why" >&2
        bad=1
    fi
done
[ "$bad" -eq 0 ] || exit 1
echo "$NAME: ${#FILES[@]} executable(s) need glibc $MAX at most"

#!/usr/bin/env bash
# The Windows executables run under Wine against lab_server.exe (also under
# Wine) on loopback: part2_pdc.exe (CMD_short:0 and CMD_floodme),
# part3_reset.exe and part5_ws.exe. A check by hand, not part of CI (Wine
# is a large install and slow to start its first prefix).
#
#   dev/scripts/wine_smoke.sh DIR     (DIR holds the .exe files, e.g. an unpacked
#                                  dist/tcpip-lab3-…-x86_64-pc-windows-gnu.zip)
#
# Needs `wine64` (Debian: apt-get install wine64). Wine 8 (Debian 12) lacks
# bcryptprimitives.dll, whose ProcessPrng Rust's standard library calls at
# start-up: WINE_SHIM=path/to/bcryptprimitives.dll copies a stand-in built
# from RtlGenRandom next to the executables (see the comment at the end).
# Ports 15003, 15004, 15006 on 127.0.0.1; everything stops by itself.
set -euo pipefail
NAME=wine_smoke
fail() { echo "$NAME: error: $*" >&2; exit 1; }
DIR=${1:?give the folder of the .exe files}
WINE=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$WINE" ] || fail "wine64 is not installed (apt-get install wine64)"
export WINEPREFIX=${WINEPREFIX:-/tmp/tcpip-lab3-wine}
export WINEDEBUG=-all
[ -z "${WINE_SHIM:-}" ] || cp "$WINE_SHIM" "$DIR/"
cd "$DIR"
TCP=15003 UDP=15004 WS=15006
timeout 120 "$WINE" lab_server.exe --bind 127.0.0.1 --tcp-port $TCP --udp-port $UDP \
    --ws-port $WS --only tcp,udp,ws --flood-bytes 1MiB 2>lab_server.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 60); do
    grep -q "$WS" lab_server.log 2>/dev/null && break
    sleep 1
done
ok=0
run() {
    local what=$1; shift
    local out
    if out=$(timeout 60 "$WINE" "$@" 2>&1); then
        echo "$NAME: ok: $what: $(printf '%s' "$out" | head -c 300 | tr '\r\n' '  ')"
    else
        echo "$NAME: FAILED: $what: $out" >&2
        ok=1
    fi
}
run "part2_pdc CMD_short:0" part2_pdc.exe --host 127.0.0.1 --port $TCP CMD_short:0
flood=$(timeout 60 "$WINE" part2_pdc.exe --host 127.0.0.1 --port $TCP CMD_floodme | wc -c)
echo "$NAME: part2_pdc CMD_floodme: $flood bytes"
[ "$flood" -ge 1048576 ] || { echo "$NAME: FAILED: part2_pdc CMD_floodme printed $flood bytes" >&2; ok=1; }
run "part3_reset" part3_reset.exe --host 127.0.0.1 --port $UDP -4 --reset 20
run "part5_ws CMD_short:0" part5_ws.exe --url ws://127.0.0.1:$WS CMD_short:0
exit $ok

# The stand-in bcryptprimitives.dll (Wine 8 only; Windows 10 has the real
# one), built with the Zig that dev/scripts/portable_tools.sh installs:
#   printf '%s\n' '#include <windows.h>' \
#     'BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);' \
#     '__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE d, SIZE_T n) {' \
#     '  while (n) { ULONG k = n > 65536 ? 65536 : (ULONG)n;' \
#     '    if (!SystemFunction036(d, k)) return FALSE; d += k; n -= k; }' \
#     '  return TRUE; }' >prng.c
#   .tools/venv/bin/python -m ziglang cc -target x86_64-windows-gnu -shared \
#     -O2 -o bcryptprimitives.dll prng.c -ladvapi32

#!/usr/bin/env bash
# make dist: release archives of every executable for the systems students
# and graders use, built on this Linux machine with cargo-zigbuild (Zig as
# the cross linker; dev/scripts/portable_tools.sh installs both):
#
#   dist/tcpip-lab3-<version>-<target>.tar.gz   (Linux, macOS)
#   dist/tcpip-lab3-<version>-<target>.zip      (Windows)
#   dist/SHA256SUMS
#
# Each archive holds one folder with the executables, README.txt (how to
# run them) and the licences. lab_grader grades on Linux only (network
# namespaces, TUN, its sandbox: Linux system calls), so only the Linux
# archives have it. The Linux x86-64 and aarch64 builds need
# glibc 2.17 at most (checked), so they start on any Linux of the last ten
# years.
#
#   dev/scripts/dist.sh [--tools .tools] [--out dist] [TARGET...]
#
# With no TARGET, all five; the profile is `dist` (Cargo.toml). Usage
# errors exit 2, failures 1.
set -euo pipefail

NAME="make dist"
fail() { echo "$NAME: error: $*" >&2; exit 1; }
cd "$(dirname "$0")/../.."

ALL_TARGETS=(
    x86_64-unknown-linux-gnu.2.17
    aarch64-unknown-linux-gnu.2.17
    x86_64-apple-darwin
    aarch64-apple-darwin
    x86_64-pc-windows-gnu
)
ALL_BINS=(part1_echo part2_pdc part3_reset part4_receiver part4_sender part5_ws part6_pmu
    lab_server lab_grader secure_cmd cbc_msg)
LINUX_ONLY=(lab_grader)
PROFILE=${DIST_PROFILE:-dist}
TOOLS=.tools
OUT=dist
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tools) TOOLS=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "$NAME: error: unknown option $1" >&2; exit 2 ;;
        *)
            known=0
            for t in "${ALL_TARGETS[@]}"; do [ "$1" = "$t" ] && known=1; done
            [ "$known" -eq 1 ] || { echo "$NAME: error: unknown target $1 (one of: ${ALL_TARGETS[*]})" >&2; exit 2; }
            TARGETS+=("$1")
            ;;
    esac
    shift
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

bash dev/scripts/portable_tools.sh --tools "$TOOLS" --for "$NAME" "${TARGETS[@]}"
export PATH="$(cd "$TOOLS" && pwd)/venv/bin:$PATH"
# No compiler cache: sccache's server runs rustc without this PATH, so the
# Windows import-library step (Zig's dlltool) cannot find Zig.
export RUSTC_WRAPPER=

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$VERSION" ] || fail "no version in Cargo.toml's [workspace.package]"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed (coreutils)"
mkdir -p "$OUT"

for target in "${TARGETS[@]}"; do
    triple=${target%.2.*}
    BINS=()
    for b in "${ALL_BINS[@]}"; do
        [[ "$triple" == *-linux-* ]] || [[ " ${LINUX_ONLY[*]} " != *" $b "* ]] || continue
        BINS+=("$b")
    done
    BIN_ARGS=()
    for b in "${BINS[@]}"; do BIN_ARGS+=(--bin "$b"); done
    echo "$NAME: building for $target: ${BINS[*]}"
    start=$SECONDS
    if [[ "$triple" == *-apple-darwin ]]; then
        # Link stubs (.tbd) of the Apple frameworks the executables call,
        # listing only the symbols in dev/scripts/macos-frameworks.txt: the
        # executables load the real frameworks from /System/Library on the
        # Mac. Given to Zig's linker as a framework folder (-F).
        frameworks="$(cd "$TOOLS" && pwd)/macos-frameworks"
        rm -rf "$frameworks"
        while read -r fw symbols; do
            [ -n "$fw" ] && [ "${fw:0:1}" != "#" ] || continue
            mkdir -p "$frameworks/$fw.framework"
            cat >"$frameworks/$fw.framework/$fw.tbd" <<TBD
--- !tapi-tbd
tbd-version:     4
targets:         [ x86_64-macos, arm64-macos ]
install-name:    '/System/Library/Frameworks/$fw.framework/Versions/A/$fw'
exports:
  - targets:     [ x86_64-macos, arm64-macos ]
    symbols:     [ ${symbols// /, } ]
...
TBD
        done <dev/scripts/macos-frameworks.txt
        triple_var=$(tr 'a-z-' 'A-Z_' <<<"$triple")
        export "CARGO_TARGET_${triple_var}_RUSTFLAGS=-C link-arg=-F$frameworks"
    fi
    cargo zigbuild --profile "$PROFILE" --target "$target" "${BIN_ARGS[@]}"
    built="${CARGO_TARGET_DIR:-target}/$triple/$PROFILE"
    exe=""
    [[ "$triple" != *windows* ]] || exe=.exe
    case "$target" in
        *linux-gnu.2.*)
            files=()
            for b in "${BINS[@]}"; do files+=("$built/$b"); done
            bash dev/scripts/check_glibc.sh --max "${target##*-gnu.}" "${files[@]}" ;;
    esac
    folder="tcpip-lab3-$VERSION-$triple"
    stage="$OUT/$folder"
    rm -rf "$stage"
    mkdir -p "$stage"
    for b in "${BINS[@]}"; do
        [ -f "$built/$b$exe" ] || fail "$built/$b$exe was not built"
        cp "$built/$b$exe" "$stage/"
        chmod 755 "$stage/$b$exe"
    done
    cp LICENSE-MIT LICENSE-APACHE "$stage/"
    sed -e "s/@TARGET@/$triple/g" -e "s/@VERSION@/$VERSION/g" dev/scripts/dist-README.txt >"$stage/README.txt"
    rm -f "$OUT/$folder.tar.gz" "$OUT/$folder.zip"
    if [ -n "$exe" ]; then
        # zip keeps no Unix modes that matter on Windows; Python's zipfile
        # needs nothing installed.
        python3 - "$OUT" "$folder" <<'PY'
import os, sys, zipfile
out, folder = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(os.path.join(out, folder + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(os.path.join(out, folder))):
        z.write(os.path.join(out, folder, name), os.path.join(folder, name))
PY
        archive="$folder.zip"
    else
        tar -C "$OUT" --owner=0 --group=0 -czf "$OUT/$folder.tar.gz" "$folder"
        archive="$folder.tar.gz"
    fi
    rm -rf "$stage"
    echo "$NAME: $OUT/$archive ($(du -k "$OUT/$archive" | cut -f1) KiB, $((SECONDS - start)) s)"
done

# The checksums of every archive in dist/, this run's and earlier ones'.
(
    cd "$OUT"
    shopt -s nullglob
    archives=(tcpip-lab3-*.tar.gz tcpip-lab3-*.zip)
    [ ${#archives[@]} -eq 0 ] || sha256sum "${archives[@]}" >SHA256SUMS
)
echo "$NAME: $OUT/SHA256SUMS"
cat "$OUT/SHA256SUMS"

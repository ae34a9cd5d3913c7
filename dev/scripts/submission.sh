#!/usr/bin/env bash
# make submission CAMIPRO1=… CAMIPRO2=…: the folder Lab3_<C1>_<C2>/ with the
# lab's executables under the course's names, the Part 6 key and
# certificate (<C1>_key.pem, <C1>_cert.pem) when certs/ has them, the report
# (REPORT.md and its REPORT_*.svg pictures) when `make report` has written
# it, and Lab3_<C1>_<C2>.zip of the folder.
#
#   dev/scripts/submission.sh [--check] [--bin-dir target/release] [--certs certs] [--report .] [--out .] CAMIPRO1 CAMIPRO2
#
# --check only validates the two CAMIPRO numbers (six digits each, not the
# same), so that `make submission` says what is wrong before it builds.
# --report names the folder where REPORT.md is looked for (default: none).
# The zip is made with `zip` when installed, else with Python's zipfile:
# nothing to install by hand (SUBMISSION_ZIP=python uses Python even where
# zip is installed). Usage errors exit 2, failures 1.
set -euo pipefail

NAME="submission"
usage_error() { echo "$NAME: error: $*" >&2; exit 2; }
fail() { echo "$NAME: error: $*" >&2; exit 1; }

CHECK=0
BIN=target/release
GLIBC_MAX=""
CERTS=certs
REPORT_DIR=
OUT=.
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --check) CHECK=1 ;;
        --bin-dir) BIN=${2:?}; shift ;;
        --glibc-max) GLIBC_MAX=${2:?}; shift ;;
        --certs) CERTS=${2:?}; shift ;;
        --report) REPORT_DIR=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
[ ${#ARGS[@]} -eq 2 ] || usage_error "give the group's two CAMIPRO numbers: make submission CAMIPRO1=123456 CAMIPRO2=654321"
C1=${ARGS[0]}
C2=${ARGS[1]}
for pair in "CAMIPRO1=$C1" "CAMIPRO2=$C2"; do
    value=${pair#*=}
    [[ "$value" =~ ^[0-9]{6}$ ]] || usage_error "${pair%%=*} '$value' is not a CAMIPRO number (six digits, such as 123456)"
done
[ "$C1" != "$C2" ] || usage_error "CAMIPRO1 and CAMIPRO2 are both $C1: give both members' numbers"
[ "$CHECK" -eq 0 ] || exit 0

GROUP="Lab3_${C1}_${C2}"
OUT=${OUT%/}
DIR="$OUT/$GROUP"
ZIP="$OUT/$GROUP.zip"
[ "$OUT" != "." ] || { DIR=$GROUP; ZIP=$GROUP.zip; }
# The built name, then the course's name before _<C1>_<C2>.
PROGRAMS=(
    "part2_pdc Part2"
    "part3_reset Part3"
    "part4_receiver Part4_Receiver"
    "part4_sender Part4_Sender"
    "part5_ws Part5"
    "part6_pmu Part6_PMU"
)
for p in "${PROGRAMS[@]}"; do
    built=${p%% *}
    [ -x "$BIN/$built" ] || fail "missing $BIN/$built: make build first"
done
# --glibc-max 2.17 (make submission): the course's machines may run an old
# Linux, so an executable that needs a newer glibc is not handed in.
if [ -n "$GLIBC_MAX" ]; then
    files=()
    for p in "${PROGRAMS[@]}"; do files+=("$BIN/${p%% *}"); done
    bash "$(dirname "$0")/check_glibc.sh" --max "$GLIBC_MAX" "${files[@]}" ||
        fail "not handed in: the course's machines may run glibc $GLIBC_MAX; make submission builds for it"
fi

# A fresh folder each time: nothing stale from an earlier submission.
rm -rf "$DIR" "$ZIP"
mkdir -p "$DIR"
for p in "${PROGRAMS[@]}"; do
    built=${p%% *}
    name="${p#* }_${C1}_${C2}"
    cp "$BIN/$built" "$DIR/$name"
    chmod 755 "$DIR/$name"
done

# Part 6: the key and the certificate the course CA signed, named by
# CAMIPRO1 as the handout (and `make key csr`) names them; the key stays
# private to the group. The local test CA's certificate
# (<C1>_test_cert.pem) is never handed in.
KEY="$CERTS/${C1}_key.pem"
CRT="$CERTS/${C1}_cert.pem"
if [ -f "$KEY" ] && [ -f "$CRT" ]; then
    cp "$CRT" "$DIR/${C1}_cert.pem"
    chmod 644 "$DIR/${C1}_cert.pem"
    cp "$KEY" "$DIR/${C1}_key.pem"
    chmod 600 "$DIR/${C1}_key.pem"
    PART6="with ${C1}_key.pem and ${C1}_cert.pem"
elif [ -f "$KEY" ] || [ -f "$CRT" ]; then
    echo "$NAME: warning: $KEY and $CRT go together; only one is there, so neither is included" >&2
    PART6="without the Part 6 key and certificate"
else
    PART6="without the Part 6 key and certificate (none in $CERTS/: make key csr CAMIPRO1=$C1, then save the course CA's answer as $CRT)"
fi

# The report, when `make report` has written one: REPORT.md and the
# pictures it shows (REPORT_*.svg, next to it).
REPORT="and no report"
if [ -n "$REPORT_DIR" ] && [ -f "$REPORT_DIR/REPORT.md" ]; then
    cp "$REPORT_DIR/REPORT.md" "$DIR/REPORT.md"
    pictures=0
    for svg in "$REPORT_DIR"/REPORT_*.svg; do
        [ -f "$svg" ] || continue
        cp "$svg" "$DIR/"
        pictures=$((pictures + 1))
    done
    chmod 644 "$DIR"/REPORT*
    REPORT="and REPORT.md with $pictures picture(s)"
elif [ -n "$REPORT_DIR" ]; then
    REPORT="and no report (none in $REPORT_DIR/: make report)"
fi

# SUBMISSION_ZIP=python forces the fallback (the tests try both ways).
if [ "${SUBMISSION_ZIP:-}" != python ] && command -v zip >/dev/null 2>&1; then
    (cd "$OUT" && zip -qr "$GROUP.zip" "$GROUP")
elif command -v python3 >/dev/null 2>&1; then
    python3 - "$OUT" "$GROUP" <<'PY'
import os, sys, zipfile
out, group = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(os.path.join(out, group + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(os.path.join(out, group))):
        # write() keeps each file's mode, so the executables stay executable.
        z.write(os.path.join(out, group, name), os.path.join(group, name))
PY
else
    fail "neither zip nor python3 is installed to make $ZIP"
fi
echo "$DIR/: the 6 executables $PART6, $REPORT"
echo "$ZIP"

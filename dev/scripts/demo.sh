#!/usr/bin/env bash
# make demo: lab_server on loopback, then every part against it.
# Ports 25001-25006 keep clear of a `make server` on the lab's own ports.
# Nothing here leaves the machine: every address is 127.0.0.1 or ::1.
set -euo pipefail
BIN=${1:-target/release}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab_server: TCP PMU on 25003, UDP reset on 25004 (IPv6 only, 30% loss), WebSocket PMU on 25006, TV channel on 224.1.1.1:25005, loopback"
# The TV channel multicasts through 127.0.0.1 with TTL 0: its datagrams
# never leave this machine.
"$BIN/lab_server" --tcp-port 25003 --udp-port 25004 --messages 5 --flood-bytes 1000 \
    --udp-family v6 --loss 0.3 --ws-port 25006 --mcast-port 25005 \
    --mcast-interface 127.0.0.1 --mcast-ttl 0 --tv-interval 0.3 --quiet &
PIDS+=($!)
sleep 0.5

step "Part 1, Codes A and B: UDP send and receive (Code A's 'Hello, Romeo ')"
"$BIN/part1_echo" udp-recv --port 25001 --count 1 &
RECV=$!
sleep 0.3
"$BIN/part1_echo" udp-send --host localhost --port 25001 2>/dev/null
wait $RECV

step "Part 1, Codes C and D: TCP echo (3 received lines at the server, 6 at the client; --close instead of Code D's endless hold)"
"$BIN/part1_echo" tcp-server --port 25002 --once 2>/dev/null &
SERVER=$!
sleep 0.3
"$BIN/part1_echo" tcp-client --host localhost --port 25002 --close 2>/dev/null
wait $SERVER

step "Part 2: part2_pdc --host localhost --port 25003 --stats CMD_short:0.2 (a line every 0.2 s)"
"$BIN/part2_pdc" --host localhost --port 25003 --stats CMD_short:0.2

step "Part 2: part2_pdc --host localhost --port 25003 --stats CMD_floodme (first 3 lines of 1000 bytes)"
"$BIN/part2_pdc" --host localhost --port 25003 --stats CMD_floodme | head -n 3

step "Part 3: part3_reset --host localhost --port 25004 --runs 5 (the server answers on IPv6 only)"
"$BIN/part3_reset" --host localhost --port 25004 --runs 5 --timeout 0.5

step "Part 4: two part4_receivers on port 25005 (loopback); part4_sender --id 123456 sends a long and a short opinion; the TV channel (Romeo and Juliet) answers the long one only"
MC=$(mktemp -d)
"$BIN/part4_receiver" --interface 127.0.0.1 --port 25005 --count 8 --timeout 5 &
RX1=$!
"$BIN/part4_receiver" --interface 127.0.0.1 --port 25005 --count 8 --timeout 5 >"$MC/second" 2>/dev/null &
RX2=$!
sleep 0.5
{ printf 'A long opinion. %.0s' $(seq 20); echo; echo "Too short."; } |
    "$BIN/part4_sender" --id 123456 --interface 127.0.0.1 --ttl 0 --port 25005
wait $RX1 $RX2
echo "(the second receiver on the same port got $(wc -l <"$MC/second") datagrams too)"
rm -rf "$MC"

step "Part 5: part5_ws --url ws://localhost:25006 --stats CMD_short:0.2 CMD_floodme (binary frames; first 3 flood lines)"
"$BIN/part5_ws" --url ws://localhost:25006 --stats CMD_short:0.2 CMD_floodme | head -n 8

step "Part 6: a throw-away CA signs a certificate (make key test-cert, in a temp dir); part6_pmu serves on 25443, IPv4 and IPv6"
P6=$(mktemp -d)
trap 'rm -rf "$P6"; cleanup' EXIT
${MAKE:-make} -s --no-print-directory key test-cert CAMIPRO1=123456 CERTS="$P6" >"$P6/make.log" 2>&1 \
    || { cat "$P6/make.log"; exit 1; }
"$BIN/part6_pmu" serve --cert "$P6/123456_test_cert.pem" --key "$P6/123456_key.pem" \
    --listen 127.0.0.1:25443 --listen '[::1]:25443' --messages 5 --flood-bytes 1000 &
PIDS+=($!)
sleep 0.5

step "Part 6: part6_pmu client --ca test-ca.crt --host localhost --port 25443 -v CMD_short:0.2 CMD_floodme (first 3 flood lines)"
"$BIN/part6_pmu" client --ca "$P6/test-ca.crt" --host localhost --port 25443 -v CMD_short:0.2 CMD_floodme | head -n 8

step "Part 6: the client checks the name: --servername pmu.example.com is refused"
"$BIN/part6_pmu" client --ca "$P6/test-ca.crt" --host 127.0.0.1 --port 25443 --servername pmu.example.com CMD_short:0 || true

step "secure_cmd: a throw-away CA signs the server's certificate (make key test-cert) and a client's (CN alice, openssl), in a temp dir; server on 127.0.0.1:25015, mutual TLS"
SC=$(mktemp -d)
trap 'rm -rf "$P6" "$SC"; cleanup' EXIT
${MAKE:-make} -s --no-print-directory key test-cert CAMIPRO1=123456 CERTS="$SC" >"$SC/make.log" 2>&1 \
    || { cat "$SC/make.log"; exit 1; }
# A client certificate: clientAuth, X.509 v3 (rustls accepts no other).
openssl req -x509 -new -newkey rsa:2048 -nodes -days 1 -subj "/CN=alice" \
    -CA "$SC/test-ca.crt" -CAkey "$SC/test-ca.key" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=clientAuth" \
    -keyout "$SC/alice.key" -out "$SC/alice.crt" 2>"$SC/openssl.log" || { cat "$SC/openssl.log"; exit 1; }
"$BIN/secure_cmd" server --cert "$SC/123456_test_cert.pem" --key "$SC/123456_key.pem" --client-ca "$SC/test-ca.crt" \
    --listen 127.0.0.1:25015 --allow-cn alice --log "$SC/log/server.log" &
SC_SERVER=$!
PIDS+=($SC_SERVER)
sleep 0.5

step "secure_cmd client --ca test-ca.crt --cert alice.crt --key alice.key --host 127.0.0.1 --port 25015 date 'echo hello' 'echo a;id' id"
"$BIN/secure_cmd" client --ca "$SC/test-ca.crt" --cert "$SC/alice.crt" --key "$SC/alice.key" \
    --host 127.0.0.1 --port 25015 date 'echo hello' 'echo a;id' id \
    || echo "(exit $?: the last command, id, is not on the allow-list)"
sleep 0.2 # the server logs the close
kill "$SC_SERVER" 2>/dev/null || true
wait "$SC_SERVER" 2>/dev/null || true
echo "the server's log ($SC/log/server.log):"
cat "$SC/log/server.log"

step "cbc_msg: AES-256-CBC + HMAC-SHA256 messages: keygen (temp dir), server on 127.0.0.1:25007, two clients"
CBC=$(mktemp -d)
"$BIN/cbc_msg" keygen --out "$CBC/key"
"$BIN/cbc_msg" server 25007 --bind 127.0.0.1 --key-file "$CBC/key" &
CBC_SERVER=$!
PIDS+=($CBC_SERVER)
sleep 0.3
"$BIN/cbc_msg" client localhost 25007 --key-file "$CBC/key" --message "Hello from cbc_msg, encrypted and authenticated"
echo "a line read from stdin" | "$BIN/cbc_msg" client 127.0.0.1 25007 --key-file "$CBC/key"
sleep 0.2 # the server prints it before the next step

step "cbc_msg: a client with another key is rejected, and the server goes on"
"$BIN/cbc_msg" keygen --out "$CBC/other"
"$BIN/cbc_msg" client 127.0.0.1 25007 --key-file "$CBC/other" --message "forged"
sleep 0.2
"$BIN/cbc_msg" client 127.0.0.1 25007 --key-file "$CBC/key" --message "still serving"
sleep 0.3
kill "$CBC_SERVER" 2>/dev/null || true
wait "$CBC_SERVER" 2>/dev/null || true
rm -rf "$CBC"

step "demo done"

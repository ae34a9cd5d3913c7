#!/usr/bin/env python3
"""The sender for make bench's client-side cases: a PMU on 127.0.0.1 that
answers each command with a file's bytes sent by os.sendfile(2), straight
from the page cache to the socket, as fast as loopback goes, so that a
benchmark measures the client rather than the server.

    sendfile_server.py --tcp SHORT_FILE FLOOD_FILE [--ws FILE --ws-repeat N]

- TCP (Part 2): reads the command (CMD_short:<d> or CMD_floodme, one
  send()), sends SHORT_FILE or FLOOD_FILE whole, closes.
- WebSocket (Part 5): the opening handshake (RFC 6455 §4.2), the client's
  command frame, then ONE binary message of N times FILE's bytes: one frame
  header with the whole length, the payload sendfile'd N times, then a close
  frame. N > 1 makes a 4 GiB message from a 256 MiB file.

Prints "tcp PORT" and "ws PORT" on stdout once listening; serves one
connection at a time until killed. Loopback only.
"""

import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import threading

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def send_file(conn, path, times=1):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        for _ in range(times):
            offset = 0
            while offset < size:
                sent = os.sendfile(conn.fileno(), f.fileno(), offset, size - offset)
                if sent == 0:
                    return
                offset += sent


def read_until(conn, end, limit=65536):
    data = b""
    while end not in data and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def serve_tcp(listener, short_file, flood_file):
    while True:
        conn, _ = listener.accept()
        try:
            command = conn.recv(64)
            send_file(conn, flood_file if command.startswith(b"CMD_floodme") else short_file)
        except OSError:
            pass
        finally:
            conn.close()


def serve_ws(listener, path, repeat):
    size = os.path.getsize(path) * repeat
    while True:
        conn, _ = listener.accept()
        try:
            request = read_until(conn, b"\r\n\r\n")
            key = b""
            for line in request.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            # The command: one masked frame from the client.
            head = read_exact(conn, 2)
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", read_exact(conn, 2))[0]
            elif length == 127:
                length = struct.unpack(">Q", read_exact(conn, 8))[0]
            read_exact(conn, 4 + length)
            conn.sendall(bytes([0x82, 127]) + struct.pack(">Q", size))
            send_file(conn, path, repeat)
            conn.sendall(bytes([0x88, 2, 0x03, 0xE8]))
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            while conn.recv(4096):
                pass
        except OSError:
            pass
        finally:
            conn.close()


def listen():
    s = socket.create_server(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tcp", nargs=2, metavar=("SHORT_FILE", "FLOOD_FILE"))
    ap.add_argument("--ws", metavar="FILE")
    ap.add_argument("--ws-repeat", type=int, default=1)
    args = ap.parse_args()
    threads = []
    if args.tcp:
        s, port = listen()
        print("tcp", port, flush=True)
        threads.append(threading.Thread(target=serve_tcp, args=(s, *args.tcp), daemon=True))
    if args.ws:
        s, port = listen()
        print("ws", port, flush=True)
        threads.append(threading.Thread(target=serve_ws, args=(s, args.ws, args.ws_repeat), daemon=True))
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

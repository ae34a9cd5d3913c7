"""An independent WebSocket PMU for part5_ws's interoperability tests,
built on Python's `websockets` package (not tungstenite).

Prints its port on stdout, then serves until killed. Each connection reads
one command and answers as the --mode says:

  text / binary     CMD_short:<d> -> --messages messages "This is PMU data <i>"
                    in text or binary frames; CMD_floodme -> --flood bytes in
                    one message; anything else -> "Wrong command."; then the
                    close handshake
  fragmented        the same, but every message is sent in 3-byte fragments
  abrupt            the messages, then the TCP connection is closed without
                    a close frame
"""
import argparse
import socket
import ssl
import time

from websockets.sync.server import serve

PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n"


def flood(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", default="binary", choices=["text", "binary", "fragmented", "abrupt"])
    p.add_argument("--messages", type=int, default=5)
    p.add_argument("--flood", type=int, default=1000)
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()

    context = None
    if a.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.cert, a.key)

    def send(ws, data):
        if a.mode == "text":
            ws.send(data.decode())
        elif a.mode == "fragmented":
            ws.send([data[i:i + 3] for i in range(0, len(data), 3)] or [b""])
        else:
            ws.send(data)

    def handler(ws):
        command = ws.recv()
        if isinstance(command, bytes):
            command = command.decode(errors="replace")
        command = command.rstrip()
        if command.startswith("CMD_short:"):
            interval = float(command.split(":", 1)[1])
            for i in range(a.messages):
                if i and interval:
                    time.sleep(interval)
                send(ws, b"This is PMU data %d" % i)
        elif command == "CMD_floodme":
            send(ws, flood(a.flood))
        else:
            send(ws, b"Wrong command.")
        if a.mode == "abrupt":
            ws.socket.shutdown(socket.SHUT_RDWR)
            ws.socket.close()

    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, 0))
    sock.listen(16)
    # Before serve(): with TLS it wraps, and so detaches, the socket.
    port = sock.getsockname()[1]
    with serve(handler, sock=sock, ssl=context, max_size=2**20, compression=None) as server:
        print(port, flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()

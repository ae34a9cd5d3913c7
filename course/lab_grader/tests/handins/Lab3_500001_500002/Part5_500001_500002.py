import base64
import os
import socket
import sys

s = socket.create_connection(("tcpip.epfl.ch", 5006))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: tcpip.epfl.ch\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
reply = b""
while b"\r\n\r\n" not in reply:
    reply += s.recv(1)
payload = sys.argv[1].encode()
mask = os.urandom(4)
s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def exact(n):
    data = b""
    while len(data) < n:
        more = s.recv(n - len(data))
        if not more:
            raise SystemExit(0)
        data += more
    return data


while True:
    b1, b2 = exact(2)
    data = exact(b2 & 0x7F)
    if b1 & 0x0F == 0x8:
        break
    print(data.decode(errors="replace"))

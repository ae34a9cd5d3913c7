# Part 5: the WebSocket PDC, with a minimal client on a plain socket
# (RFC 6455: the handshake, masked frames out, frames in).
import base64
import os
import socket
import struct
import sys

HOST, PORT = "tcpip.epfl.ch", 5006


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        more = s.recv(n - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def send_frame(s, opcode, payload):
    head = bytes([0x80 | opcode])
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


s = socket.create_connection((HOST, PORT))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (HOST, PORT, key)).encode())
reply = b""
while b"\r\n\r\n" not in reply:
    reply += s.recv(1)
if b" 101 " not in reply.split(b"\r\n")[0]:
    sys.exit("no WebSocket: " + reply.decode(errors="replace"))
send_frame(s, 0x1, sys.argv[1].encode())
message = b""
while True:
    b1, b2 = recv_exact(s, 2)
    n = b2 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    payload = recv_exact(s, n)
    opcode = b1 & 0x0F
    if opcode == 0x8:
        send_frame(s, 0x8, payload[:2])
        break
    if opcode in (0x0, 0x1, 0x2):
        message += payload
        if b1 & 0x80:
            print(message.decode())
            message = b""
s.close()

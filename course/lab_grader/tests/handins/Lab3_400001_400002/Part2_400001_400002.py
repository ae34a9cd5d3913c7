import socket
import sys

s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.connect(("tcpip.epfl.ch", 5003))
s.sendall(sys.argv[1].encode())
# Each message is "This is PMU data i": 18 bytes... until i = 10.
buffer = b""
while True:
    data = s.recv(1024)
    if not data:
        break
    buffer += data
    if sys.argv[1] == "CMD_floodme":
        continue
    while len(buffer) >= 18:
        print(buffer[:18].decode())
        buffer = buffer[18:]
if buffer:
    print(buffer.decode())

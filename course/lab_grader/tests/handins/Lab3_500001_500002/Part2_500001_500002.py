#!/usr/bin/env python3
import re
import socket
import sys

s = socket.create_connection(("tcpip.epfl.ch", 5003))
s.sendall(sys.argv[1].encode())
if sys.argv[1] == "CMD_floodme":
    print(s.recv(1024).decode())
    raise SystemExit(0)
data = b""
while True:
    more = s.recv(1024)
    if not more:
        break
    data += more
for message in re.findall(r"This is PMU data \d+", data.decode()):
    print(message)

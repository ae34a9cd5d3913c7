# Part 3: RESET:20 to whichever of IPv4 and IPv6 the server listens on.
import re
import socket

HOST, PORT = "tcpip.epfl.ch", 5004
infos = socket.getaddrinfo(HOST, PORT, type=socket.SOCK_DGRAM)
sockets = []
for family, kind, proto, _, address in infos:
    s = socket.socket(family, kind, proto)
    s.settimeout(0.2)
    sockets.append((s, address))

sent = 0
while True:
    for s, address in sockets:
        try:
            s.sendto(b"RESET:20", address)
            sent += 1
            data, _ = s.recvfrom(1024)
        except OSError:
            continue
        m = re.match(rb"OFFSET[:=](\d+)$", data)
        if m:
            print("Offset:", int(m.group(1)))
            print("Requests sent:", sent)
            raise SystemExit(0)

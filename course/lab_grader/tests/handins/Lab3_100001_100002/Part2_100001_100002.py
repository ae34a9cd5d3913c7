# Part 2: the PDC. Usage: Part2_100001_100002.py CMD_short:0 | CMD_short:1 | CMD_floodme
import re
import socket
import sys

HOST, PORT = "tcpip.epfl.ch", 5003
command = sys.argv[1]

# IPv6 first, as the handout asks; IPv4 if the name has no IPv6 address.
infos = sorted(socket.getaddrinfo(HOST, PORT, type=socket.SOCK_STREAM),
               key=lambda i: i[0] != socket.AF_INET6)
for family, kind, proto, _, address in infos:
    try:
        s = socket.socket(family, kind, proto)
        s.connect(address)
        break
    except OSError:
        s.close()
else:
    sys.exit("cannot reach %s:%d" % (HOST, PORT))

s.sendall(command.encode())
if command.startswith("CMD_short"):
    # No separator between messages: split on the text each one starts with.
    pending = ""
    while True:
        data = s.recv(1024)
        pending += data.decode()
        parts = re.split(r"(?=This is PMU data )", pending)
        # The last piece may be incomplete until the next recv or the end.
        for message in parts[:-1]:
            if message:
                print(message)
        pending = parts[-1]
        if not data:
            break
    if pending:
        print(pending)
else:
    chunks = []
    while True:
        data = s.recv(4096)
        if not data:
            break
        chunks.append(data)
    print(b"".join(chunks).decode())
s.close()

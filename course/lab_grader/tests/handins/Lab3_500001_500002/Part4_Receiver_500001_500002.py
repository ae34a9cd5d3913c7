import socket
import struct

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 5005))
mreq = struct.pack("4sl", socket.inet_aton("224.1.1.1"), socket.INADDR_ANY)
s.setsockopt(socket.SOL_SOCKET, socket.IP_ADD_MEMBERSHIP, mreq)
while True:
    print(s.recv(4096)[6:].decode(errors="replace"))

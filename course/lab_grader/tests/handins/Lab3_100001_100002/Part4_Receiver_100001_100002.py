# Part 4.1: join 224.1.1.1 and show what the TV channel sends.
import socket
import struct

GROUP, PORT = "224.1.1.1", 5005
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
mreq = struct.pack("4sl", socket.inet_aton(GROUP), socket.INADDR_ANY)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
while True:
    data, sender = s.recvfrom(65536)
    print(data[:6].decode(errors="replace"), data[6:].decode(errors="replace"))

# Part 4.2: each line typed is sent to the group after our CAMIPRO number.
import socket
import sys

GROUP, PORT = "224.1.1.1", 5005
ID = b"100001"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for line in sys.stdin:
    s.sendto(ID + line.rstrip("\n").encode(), (GROUP, PORT))

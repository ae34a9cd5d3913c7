import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for line in sys.stdin:
    s.sendto(line.encode(), ("224.1.1.1", 5005))

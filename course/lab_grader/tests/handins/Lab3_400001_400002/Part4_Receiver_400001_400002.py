import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 5005))
# (forgot IP_ADD_MEMBERSHIP)
while True:
    data, _ = s.recvfrom(4096)
    print(data.decode(errors="replace"))

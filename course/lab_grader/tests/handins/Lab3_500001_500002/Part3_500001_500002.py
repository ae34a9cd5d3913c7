import socket

for family, kind, proto, _, address in socket.getaddrinfo("tcpip.epfl.ch", 5004, type=socket.SOCK_DGRAM):
    s = socket.socket(family, kind, proto)
    s.settimeout(1)
    s.sendto(b"RESET:20", address)
    try:
        print(s.recvfrom(100)[0].decode())
        break
    except socket.timeout:
        print("timeout")

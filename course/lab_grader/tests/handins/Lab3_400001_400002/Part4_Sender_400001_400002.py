import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    text = input()
    s.sendto(b"400001" + text.encode(), ("224.1.1.1", 5005))

# Our own test client for Part 6 (not graded).
import socket
import ssl

ctx = ssl.create_default_context(cafile="cacert.pem")
ctx.check_hostname = False
with ctx.wrap_socket(socket.create_connection(("localhost", 5003))) as s:
    s.sendall(b"CMD_short:0")
    print(s.recv(1024).decode())

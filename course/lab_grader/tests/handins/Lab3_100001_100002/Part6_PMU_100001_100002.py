# Part 6: the PMU behind TLS on localhost:5003.
import socket
import ssl
import time

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("100001_cert.pem", "100001_key.pem")
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("localhost", 5003))
listener.listen(5)
while True:
    raw, address = listener.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
        command = conn.recv(1024).decode()
        if command.startswith("CMD_short:"):
            d = float(command.split(":")[1])
            for i in range(5):
                conn.sendall(("This is PMU data %d" % i).encode())
                time.sleep(d)
        conn = conn.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass
    raw.close()

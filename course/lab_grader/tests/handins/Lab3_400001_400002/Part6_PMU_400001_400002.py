import socket
import ssl

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("400001_cert.pem", "400001_key.pem")
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("localhost", 5004))
listener.listen(1)
while True:
    conn = ctx.wrap_socket(listener.accept()[0], server_side=True)
    conn.recv(1024)
    for i in range(5):
        conn.sendall(("This is PMU data %d" % i).encode())
    conn.unwrap().close()

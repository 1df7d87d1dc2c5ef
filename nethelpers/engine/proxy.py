"""The userland proxy of a published port: what ``docker-proxy`` does, as a lab process.

:data:`PROGRAM` is run by the lab's Python (``python -c PROGRAM FD[,FD] ADDRESS PORT``) in the node's
namespace, where the engine has already bound and opened the listening sockets (IPv4, IPv6) on the
published port. Each connection is relayed to the container's ``ADDRESS:PORT`` from the node,
so the container sees it come from the bridge's address, as with Docker. Standard library only.
"""

PROGRAM = r'''
import socket, sys, threading

def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

def serve(client, target):
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    both = [threading.Thread(target=pipe, args=(client, upstream), daemon=True),
            threading.Thread(target=pipe, args=(upstream, client), daemon=True)]
    for t in both:
        t.start()
    for t in both:
        t.join()
    client.close()
    upstream.close()

def accept(listener, target):
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, target), daemon=True).start()

target = (sys.argv[2], int(sys.argv[3]))
loops = [threading.Thread(target=accept, args=(socket.socket(fileno=int(fd)), target))
         for fd in sys.argv[1].split(",")]
for loop in loops:
    loop.start()
for loop in loops:
    loop.join()
'''

# Without the userland proxy, dockerd still takes each published port: it listens on it and
# never reads (so that nothing else binds it). A lab process holds that socket (its fd in argv[1]).
HOLD = "import signal, sys\nheld = int(sys.argv[1])\nwhile True:\n    signal.pause()\n"

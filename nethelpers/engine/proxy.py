"""The userland proxy of a published port: what ``docker-proxy`` does, as a lab process.

:data:`PROGRAM` is run by the lab's Python (``python -c PROGRAM PROTO FD[,FD] ADDRESS PORT [IDLE]``)
in the node's namespace, where the engine has already bound (and for TCP, opened) the listening
sockets, IPv4 and IPv6, on the published port. Traffic is relayed to the container's
``ADDRESS:PORT`` from the node, so the container sees it come from the bridge's address, as with
Docker. Standard library only.

* ``tcp``: each accepted connection gets a connection of its own to the container.
* ``udp``, as docker-proxy 20.10 does it (libnetwork's ``cmd/proxy/udp_proxy.go``): each client
  address gets a socket of its own, connected to the container; the container's replies on it
  go back to that client from the listening socket. A client's flow is forgotten when no reply
  came for ``IDLE`` s (UDP only; the engine gives :data:`UDP_IDLE`, docker-proxy's
  ``UDPConnTrackTimeout``); the next datagram from that address starts a new one. Datagrams
  are read up to :data:`UDP_BUFFER` bytes, docker-proxy's ``UDPBufSize``: a longer one is cut
  there; an empty one is not relayed (docker-proxy writes until all it read is written: nothing).
"""

PROTOCOLS = ("tcp", "udp")  # what the program relays; docker-proxy also knows sctp, the lab does not
UDP_IDLE = 90  # s: docker-proxy's UDPConnTrackTimeout
UDP_BUFFER = 65507  # bytes: docker-proxy's UDPBufSize, the largest UDP payload over IPv4

PROGRAM = f"BUFFER = {UDP_BUFFER}\n" + r'''
import socket, sys, threading, time

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

def connection(client, target):
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

def tcp(listener, target):
    while True:
        client, _ = listener.accept()
        threading.Thread(target=connection, args=(client, target), daemon=True).start()

def replies(listener, upstream, client, flows, lock, idle):
    """One client's flow: the container's replies sent back from the listening socket, until
    no reply came for idle s (a refusal, nothing listening in the container, waits on)."""
    try:
        deadline = time.monotonic() + idle
        while (left := deadline - time.monotonic()) > 0:
            upstream.settimeout(left)
            try:
                data = upstream.recv(BUFFER)
            except ConnectionRefusedError:
                continue
            if data:
                listener.sendto(data, client)
            deadline = time.monotonic() + idle
    except OSError:
        pass
    finally:
        with lock:
            del flows[client]
        upstream.close()

def cannot(target, error):
    print(f"Can't proxy a datagram to udp/{target[0]}:{target[1]}: {error}", file=sys.stderr, flush=True)

def udp(listener, target):
    flows, lock, idle = {}, threading.Lock(), float(sys.argv[5])
    family, kind, proto, _, address = socket.getaddrinfo(*target, type=socket.SOCK_DGRAM)[0]
    while True:
        data, client = listener.recvfrom(BUFFER)
        with lock:
            upstream = flows.get(client)
            if upstream is None:
                upstream = socket.socket(family, kind, proto)
                try:
                    upstream.connect(address)
                except OSError as e:
                    upstream.close()
                    cannot(target, e)
                    continue
                flows[client] = upstream
                threading.Thread(target=replies, args=(listener, upstream, client, flows, lock, idle),
                                 daemon=True).start()
        try:
            if data:
                upstream.send(data)
        except OSError as e:
            cannot(target, e)

relay = {"tcp": tcp, "udp": udp}[sys.argv[1]]
target = (sys.argv[3], int(sys.argv[4]))
loops = [threading.Thread(target=relay, args=(socket.socket(fileno=int(fd)), target))
         for fd in sys.argv[2].split(",")]
for loop in loops:
    loop.start()
for loop in loops:
    loop.join()
'''

# Without the userland proxy, dockerd still takes each published port: it listens on it and
# never reads (so that nothing else binds it). A lab process holds that socket (its fd in its argv, for ps).
HOLD = "import signal\nwhile True:\n    signal.pause()\n"

"""One TCP connection from the guest, relayed to Placement on the host's loopback.

QEMU's user-mode network runs this for each connection the guest opens to 10.0.2.100:8778
(``guestfwd=...-cmd:``): the guest's bytes arrive on stdin, ours go to stdout. Nothing else
leaves QEMU (``restrict=on``). Usage: relay.py HOST PORT
"""

import os
import selectors
import socket
import sys


def main() -> None:
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(stdin, selectors.EVENT_READ)
        selector.register(sock, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                if key.fileobj is sock:
                    data = sock.recv(65536)
                    if not data:
                        return  # Placement closed: so does the guest's connection
                    view = memoryview(data)
                    while view:
                        view = view[os.write(stdout, view):]
                else:
                    data = os.read(stdin, 65536)
                    if not data:
                        selector.unregister(stdin)
                        sock.shutdown(socket.SHUT_WR)
                        continue
                    sock.sendall(data)


if __name__ == "__main__":
    main()

"""A TCP proxy in front of PostgreSQL that can lose the reply to one COMMIT, as a flaky network does.

Armed, it forwards the client's COMMIT, waits for the server's answer — ``CommandComplete "COMMIT"``, the
proof that the server committed — and instead of passing it on, drops both connections. The client is
left not knowing whether its transaction committed; that is what kitchen's settle step has to resolve.
"""

from __future__ import annotations

import socket
import threading

COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"  # CommandComplete with the tag COMMIT


class LossyProxy:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.swallowed = 0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def swallow_next_commit(self) -> None:
        self.armed.set()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server and self.armed.is_set() and COMMIT_DONE in data:
                    self.armed.clear()
                    self.swallowed += 1
                    break  # the server committed; the client never hears so
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._closing = True
        self.listener.close()

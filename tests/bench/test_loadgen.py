"""The benchmark's load generator reads every answer whole, however its length is given."""

import http.server
import socket
import threading

from bench.loadgen import build_request, run_load


class Chunked(http.server.BaseHTTPRequestHandler):
    """201 to any POST, its body in chunks with a trailer, and the connection kept open."""

    protocol_version = "HTTP/1.1"
    connections: set = set()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        Chunked.connections.add(self.client_address)
        self.send_response(201)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Done")
        self.end_headers()
        self.wfile.write(b"4\r\n{\"id\r\n6;ext=1\r\n\": 1}\n\r\n0\r\nX-Done: yes\r\n\r\n")

    def log_message(self, *args):
        pass


def test_chunked_answers_on_a_kept_alive_connection_are_read_whole():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Chunked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_load("127.0.0.1", port, build_request("POST", "/", f"127.0.0.1:{port}", b"{}", {}),
                          concurrency=2, seconds=0.5)
    finally:
        server.shutdown()
        server.server_close()
    # Had a body been left unread, the next answer's status line would have been read from it.
    assert result.errors == 0
    assert set(result.statuses) == {201}
    assert result.answered > 20
    assert len(Chunked.connections) == 2  # each client kept its one connection

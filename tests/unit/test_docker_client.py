"""The Docker client over a real unix socket whose server hangs up without answering, as the
engine can on a pooled keep-alive connection: calls safe to repeat are sent again, a create is not."""

import socket
import socketserver
import threading

import pytest

from openclaw_fleet.errors import DockerUnreachable
from openclaw_fleet.providers.docker.client import ATTEMPTS, docker_client

BODY = b'{"Id": "c0ffee"}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


class HangingUpEngine(socketserver.ThreadingUnixStreamServer):
    """Reads each request; hangs up without a word on the first ``hang_ups`` of them, answers
    ``ANSWER`` after that. ``requests`` holds each request's first line."""

    daemon_threads = True

    def __init__(self, path: str, hang_ups: int):
        self.hang_ups, self.requests, self.lock = hang_ups, [], threading.Lock()
        super().__init__(path, Handler)


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            request_line = self.rfile.readline()
            if not request_line:
                return
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            self.rfile.read(length)
            with self.server.lock:
                self.server.requests.append(request_line.decode().split(" HTTP")[0])
                hang_up = len(self.server.requests) <= self.server.hang_ups
            if hang_up:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(ANSWER)


@pytest.fixture
def engine(tmp_path):
    engines = []

    def start(hang_ups: int) -> HangingUpEngine:
        server = HangingUpEngine(str(tmp_path / "docker.sock"), hang_ups)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        engines.append(server)
        return server

    yield start
    for server in engines:
        server.shutdown()
        server.server_close()


def test_a_read_whose_connection_broke_is_sent_again(engine, tmp_path):
    server = engine(hang_ups=ATTEMPTS - 1)
    with docker_client(f"unix://{tmp_path / 'docker.sock'}", timeout=10) as docker:
        assert docker.inspect_container("c0ffee") == {"Id": "c0ffee"}
    assert server.requests == ["GET /v1.41/containers/c0ffee/json"] * ATTEMPTS


def test_a_read_gives_up_after_three_broken_connections_and_says_so(engine, tmp_path):
    server = engine(hang_ups=ATTEMPTS)
    with (
        docker_client(f"unix://{tmp_path / 'docker.sock'}", timeout=10) as docker,
        pytest.raises(DockerUnreachable) as raised,
    ):
        docker.inspect_container("c0ffee")
    assert len(server.requests) == ATTEMPTS
    assert "the connection broke before the engine answered (RemoteProtocolError)" in str(raised.value)


def test_a_create_whose_answer_was_lost_is_not_sent_again(engine, tmp_path):
    server = engine(hang_ups=1)
    with (
        docker_client(f"unix://{tmp_path / 'docker.sock'}", timeout=10) as docker,
        pytest.raises(DockerUnreachable, match="connection broke"),
    ):
        docker.create_container("gateway", {"Image": "openclaw"})
    assert server.requests == ["POST /v1.41/containers/create?name=gateway"]


def test_starting_a_container_is_sent_again_as_a_second_start_changes_nothing(engine, tmp_path):
    server = engine(hang_ups=1)
    with docker_client(f"unix://{tmp_path / 'docker.sock'}", timeout=10) as docker:
        docker.start_container("c0ffee")
    assert server.requests == ["POST /v1.41/containers/c0ffee/start"] * 2


def test_a_call_that_cannot_connect_says_the_engine_could_not_be_reached(tmp_path):
    with (
        docker_client(f"unix://{tmp_path / 'no-engine.sock'}", timeout=10) as docker,
        pytest.raises(DockerUnreachable, match=r"could not reach the engine \(ConnectError\)"),
    ):
        docker.create_container("gateway", {"Image": "openclaw"})

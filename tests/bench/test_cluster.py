"""make bench-cluster's parts: haproxy's configuration and runtime API, and the load cut into phases."""

import http.server
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from bench import cluster
from bench.loadgen import LoadResult, build_request, run_load

SERVERS = {"web1": 5401, "web2": 5402, "web3": 5403}


def config(tmp_path: Path, port: int = 5400, servers: dict[str, int] = SERVERS) -> str:
    return cluster.haproxy_config(port=port, servers=servers, stats_socket=tmp_path / "haproxy.sock")


def directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_the_config_balances_every_instance_and_checks_its_health_url(tmp_path):
    lines = directives(config(tmp_path))
    assert "bind 127.0.0.1:5400" in lines
    assert [line for line in lines if line.startswith("server ")] == [
        "server web1 127.0.0.1:5401", "server web2 127.0.0.1:5402", "server web3 127.0.0.1:5403",
    ]
    assert "http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1" in lines
    assert "http-check expect status 200" in lines
    assert any(line.startswith("default-server check ") for line in lines)


def test_the_config_tells_the_instances_the_clients_address_and_lets_the_runner_drain_them(tmp_path):
    lines = directives(config(tmp_path))
    assert "option forwardfor" in lines  # hence PREDICTOR_PROXY_HOPS=1 on the instances
    assert f"stats socket {tmp_path / 'haproxy.sock'} mode 600 level admin" in lines


def test_a_post_is_retried_only_when_it_was_never_sent(tmp_path):
    lines = directives(config(tmp_path))
    assert [line for line in lines if line.startswith("retry-on")] == ["retry-on conn-failure"]
    assert "option redispatch 1" in lines


SHOW_STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,\n"
    "web,FRONTEND,,,8,9,2000,1200,0,0,0,0,0,,,,,OPEN,\n"
    "app,web1,0,0,3,5,,400,0,0,,0,,0,0,0,0,UP,\n"
    "app,web2,0,0,0,4,,380,0,0,,0,,0,0,0,0,DRAIN,\n"
    "app,BACKEND,0,0,3,8,200,780,0,0,0,0,,0,0,0,0,UP,\n"
)


def test_show_stat_gives_the_backends_servers_by_name():
    servers = cluster.parse_show_stat(SHOW_STAT)
    assert list(servers) == ["web1", "web2"]
    assert servers["web1"]["scur"] == "3" and servers["web1"]["stot"] == "400"
    assert servers["web2"]["status"] == "DRAIN"


def test_an_answer_that_is_not_show_stat_is_refused():
    with pytest.raises(ValueError):
        cluster.parse_show_stat("Unknown command.\n")


HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_haproxy_takes_the_config_and_drains_and_readies_a_server_through_its_socket(tmp_path, monkeypatch, app):
    monkeypatch.setattr(cluster, "HAPROXY", HAPROXY)
    haproxy = cluster.Haproxy(tmp_path, free_port(), {"web1": app, "web2": app})
    try:
        rows = haproxy.wait_until(lambda rows: set(rows) == {"web1", "web2"}, "answering", timeout=5)
        assert rows["web1"]["status"] == "UP"
        haproxy.set_state("web1", "drain")
        assert haproxy.servers()["web1"]["status"] == "DRAIN"
        haproxy.set_state("web1", "ready")
        assert haproxy.servers()["web1"]["status"] == "UP"
        with pytest.raises(RuntimeError):
            haproxy.set_state("web9", "drain")
    finally:
        haproxy.process.terminate()
        haproxy.process.wait(timeout=5)


def timeline_result(timeline, started=100.0, duration=30.0) -> LoadResult:
    result = LoadResult(duration=duration, started=started)
    for ended, latency, status in timeline:
        result.record(ended, latency, status)
    return result


def test_the_load_is_cut_into_phases_by_when_each_request_ended():
    result = timeline_result([
        (100.5, 0.01, 201), (109.9, 0.02, 201),  # before
        (110.0, 0.03, 201), (112.0, 0.5, 0), (119.0, 0.04, 502),  # during: one connection error, one 502
        (125.0, 0.01, 201), (130.0, 0.01, 201),  # after, the last one ending as the load did
    ])
    phases = cluster.split_phases(result, [110.0, 120.0], ["before", "during", "after"])
    assert [phases[name].answered for name in phases] == [2, 2, 2]
    assert phases["during"].errors == 1 and phases["during"].statuses == {201: 1, 502: 1}
    assert phases["before"].duration == 10.0 and phases["during"].duration == 10.0
    assert phases["after"].duration == pytest.approx(10.0)
    assert sum(len(part.timeline) for part in phases.values()) == len(result.timeline)


def test_a_phase_reports_its_failures_as_connection_errors_and_other_statuses():
    part = timeline_result([(1.0, 0.01, 201), (1.5, 0.2, 0), (2.0, 0.02, 503)], started=0.0, duration=2.0)
    summary = cluster.phase_summary(part)
    assert summary["answered"] == 2 and summary["answered_201"] == 1
    assert summary["failed"] == 2 and summary["connection_errors"] == 1 and summary["other_statuses"] == {503: 1}
    assert summary["requests_per_second"] == 1.0


class Created(http.server.BaseHTTPRequestHandler):
    """201 to any POST, 200 to GET /healthz."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def app():
    """The port of a small HTTP server in a thread that stands in for an instance."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Created)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_a_load_in_a_thread_ends_when_told_and_times_every_answer(app):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.perf_counter()
    result = run_load("127.0.0.1", app, build_request("POST", "/", f"127.0.0.1:{app}", b"{}", {}),
                      concurrency=2, seconds=60, stop=stop)
    assert time.perf_counter() - began < 5
    assert result.answered > 0 and result.count(201) == result.answered and result.errors == 0
    assert len(result.timeline) == result.answered
    assert all(result.started <= ended <= result.started + result.duration for ended, _, _ in result.timeline)

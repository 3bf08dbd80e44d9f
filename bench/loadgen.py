"""A small closed-loop HTTP/1.1 load generator with exact accounting.

Each of ``concurrency`` clients sends one request, waits for the whole
answer, records its latency and status, and sends the next, until the duration is up;
then every connection finishes the request it has in flight. So "requests answered" is
exact, and can be compared with the rows the server stored. Written for this benchmark
because wrk cannot tell how many of its requests were still in flight when it stopped.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    duration: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    # One entry per request, in the order they ended: (time.perf_counter() when it ended, latency, status),
    # status 0 for a connection error. Splits a run into phases (window).
    timeline: list[tuple[float, float, int]] = field(default_factory=list)
    started: float = 0.0  # time.perf_counter() when the load began

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def count(self, *statuses: int) -> int:
        return sum(self.statuses.get(status, 0) for status in statuses)

    @property
    def rps(self) -> float:
        return self.answered / self.duration

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

    def record(self, ended: float, latency: float, status: int) -> None:
        """One request that ended at ``ended`` (perf_counter) after ``latency`` s; status 0 is a connection error."""
        self.timeline.append((ended, latency, status))
        if status:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        else:
            self.errors += 1

    def window(self, start: float, end: float) -> LoadResult:
        """The requests that ended in [start, end), as a result of their own over that many seconds."""
        part = LoadResult(duration=end - start, started=start)
        for ended, latency, status in self.timeline:
            if start <= ended < end:
                part.record(ended, latency, status)
        return part

    def summary(self) -> dict:
        return {
            "requests": self.answered,
            "requests_per_second": round(self.rps, 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else None,
            "statuses": dict(sorted(self.statuses.items())),
            "connection_errors": self.errors,
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, keep_alive, chunked = 0, True, False
    for line in head.split(b"\r\n")[1:]:
        lowered = line.lower()
        if lowered.startswith(b"content-length:"):
            length = int(line[15:])
        elif lowered.startswith(b"connection:") and b"close" in lowered:
            keep_alive = False
        elif lowered.startswith(b"transfer-encoding:") and b"chunked" in lowered:
            chunked = True
    if chunked:  # a kept-alive answer without a length (a body Django did not measure)
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)  # the chunk and its CRLF
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the empty line
            pass
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


async def _client(host: str, port: int, payloads: Sequence[bytes], deadline: float, result: LoadResult,
                  stop: threading.Event | None) -> None:
    reader = writer = None
    sent = 0
    while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
        started = time.perf_counter()  # a latency includes connecting, when the last answer closed
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(payloads[sent % len(payloads)])
            sent += 1
            status, keep_alive = await _read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            ended = time.perf_counter()
            result.record(ended, ended - started, 0)
            if writer is not None:
                writer.close()
            writer = None
            continue
        ended = time.perf_counter()
        result.record(ended, ended - started, status)
        if not keep_alive:  # gunicorn's sync workers close after each answer, as they do for any client
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def build_request(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def run_load(host: str, port: int, payload: bytes | Sequence[bytes], *, concurrency: int, seconds: float,
             stop: threading.Event | None = None) -> LoadResult:
    """Drive one request shape at a server for ``seconds`` with ``concurrency`` connections; given
    several payloads, each connection sends them in turn, starting from a different one. Given
    ``stop`` (for a load run in a thread while another drives the servers), it also ends once that
    event is set; ``seconds`` is then an upper bound."""
    payloads = [payload] if isinstance(payload, bytes) else list(payload)

    async def main() -> LoadResult:
        started = time.perf_counter()
        result = LoadResult(duration=seconds, started=started)
        deadline = started + seconds
        await asyncio.gather(*(
            _client(host, port, payloads[index:] + payloads[:index], deadline, result, stop)
            for index in range(concurrency)
        ))
        result.duration = time.perf_counter() - started
        return result

    return asyncio.run(main())

"""Raw HTTP measurements, the same client code for every server."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import statistics
import time
from pathlib import Path

from servers import Server

MiB = 2**20
RANGE = 4096


def connect(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=600, blocksize=MiB)


def get(
    conn: http.client.HTTPConnection, server: Server, path: str, headers: dict | None = None
) -> bytes:
    conn.request("GET", server.url(path), headers={**server.headers, **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    if response.status not in (200, 206):
        raise RuntimeError(f"{server.name}: GET {path} -> {response.status} {body[:200]!r}")
    return body


def stream_read(server: Server, path: str, cap_seconds: float = 600) -> tuple[int, float]:
    """GET ``path`` in 1 MiB blocks, for at most ``cap_seconds``: (bytes received, seconds)."""
    conn = connect(server)
    start = time.perf_counter()
    conn.request("GET", server.url(path), headers=server.headers)
    response = conn.getresponse()
    received, deadline = 0, time.monotonic() + cap_seconds
    while time.monotonic() < deadline and (block := response.read(MiB)):
        received += len(block)
    elapsed = time.perf_counter() - start
    conn.close()
    return received, elapsed


def offsets(count: int, size: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(0, size - RANGE) for _ in range(count)]


def range_header(offset: int) -> dict[str, str]:
    return {"Range": f"bytes={offset}-{offset + RANGE - 1}"}


def range_loop(server: Server, path: str, size: int, count: int) -> dict[str, float]:
    """``count`` random 4 KiB ranges on one keep-alive connection."""
    conn = connect(server)
    latencies, exact = [], 0
    for offset in offsets(count, size, 42):
        start = time.perf_counter()
        body = get(conn, server, path, range_header(offset))
        latencies.append(time.perf_counter() - start)
        exact += len(body) == RANGE
    conn.close()
    latencies.sort()
    return {
        "req_s": count / sum(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * count)],
        "exact_ranges": exact,
    }


async def _client(server: Server, path: str, starts: list[int], latencies: list[float]) -> None:
    """One keep-alive connection, speaking just enough HTTP/1.1 (Content-Length or chunked)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    auth = "".join(f"{k}: {v}\r\n" for k, v in server.headers.items())
    for offset in starts:
        start = time.perf_counter()
        writer.write(
            f"GET {server.url(path)} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{auth}"
            f"Range: bytes={offset}-{offset + RANGE - 1}\r\n\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        if not head.startswith(("http/1.1 200", "http/1.1 206")):
            raise RuntimeError(f"{server.name}: {head.splitlines()[0]}")
        if "transfer-encoding: chunked" in head:
            while (length := int((await reader.readline()).strip(), 16)) > 0:
                await reader.readexactly(length + 2)
            await reader.readline()
        else:
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
    writer.close()


def concurrent_ranges(
    server: Server, path: str, size: int, clients: int, per_client: int
) -> dict[str, float]:
    """``clients`` connections at once, each reading ``per_client`` random 4 KiB ranges."""

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _client(server, path, offsets(per_client, size, n), latencies)
                for n in range(clients)
            )
        )
        return time.perf_counter() - start, latencies

    elapsed, latencies = asyncio.run(run())
    latencies.sort()
    return {
        "req_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * len(latencies))],
    }


def spread_ranges(count: int, seed: int = 7) -> list[tuple[str, int]]:
    """``count`` 4 KiB ranges spread over the ten 1 MiB files."""
    rng = random.Random(seed)
    return [(f"small{n % 10}.bin", rng.randrange(0, MiB - RANGE)) for n in range(count)]


def separate_ranges_ms(server: Server, ranges: list[tuple[str, int]]) -> float:
    conn = connect(server)
    start = time.perf_counter()
    for path, offset in ranges:
        get(conn, server, path, range_header(offset))
    elapsed = time.perf_counter() - start
    conn.close()
    return 1000 * elapsed


def batched_ranges_ms(server: Server, ranges: list[tuple[str, int]]) -> float:
    """The same ranges in one ``api/ranges`` request (this project only)."""
    items = [{"path": f"Bench/{p}", "start": o, "end": o + RANGE} for p, o in ranges]
    request = json.dumps({"ranges": items}).encode()  # bytes: sent with the headers
    conn = connect(server)
    start = time.perf_counter()
    conn.request("POST", "/fsspec-proxy/api/ranges", request, server.headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200 or len(body) < len(ranges) * RANGE:
        raise RuntimeError(f"api/ranges -> {response.status}, {len(body)} bytes")
    return 1000 * elapsed


def listing_ms(server: Server, entries: int) -> float:
    conn = connect(server)
    start = time.perf_counter()
    conn.request("GET", server.listing, headers=server.headers)
    response = conn.getresponse()
    body = json.loads(response.read())
    elapsed = time.perf_counter() - start
    conn.close()
    found = len(body["contents"] if isinstance(body, dict) else body)
    if response.status != 200 or found != entries:
        raise RuntimeError(f"{server.name}: listing {response.status}, {found} entries")
    return 1000 * elapsed


def upload_mb_s(server: Server, source: Path, path: str) -> float:
    """Send ``source`` as one streamed request body (Content-Length known up front)."""
    size = source.stat().st_size
    conn = connect(server)
    headers = {**server.headers, "Content-Length": str(size)}
    start = time.perf_counter()
    with source.open("rb") as body:
        conn.request(server.upload_method, server.url(path), body=body, headers=headers)
        response = conn.getresponse()
        response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status not in (200, 201, 204):
        raise RuntimeError(f"{server.name}: upload -> {response.status}")
    return size / MiB / elapsed

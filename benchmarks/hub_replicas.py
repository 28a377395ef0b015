"""The hub service on replicas (docs/scale-out.md): 4 KiB range reads per second
through nginx in front of one and of two replicas, and what a replica killed under
load costs. Run by hand; it starts a hub, two replicas and nginx on 127.0.0.1.

    python benchmarks/hub_replicas.py [--rounds 3] [--clients 16] [--count 250]

Throughput: ``--clients`` keep-alive connections at once, each reading ``--count``
random 4 KiB ranges with a user's hub token, at nginx's address (as kernels reach
it) with one replica behind it and with two, and through the hub's proxy with two;
measured alternately, the best of ``--rounds``. The kill: 4 client threads (reads,
4 KiB and 2 MiB writes) through the hub's proxy for 6 s, one replica killed
(SIGKILL) after 2; counted are the requests made, the ones lost (the caller got an
error), the ones nginx moved to the other replica, and the 502s that the client
sent again.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpbench as h
import servers
from rounds import alternate_best

from jupyter_fsspec_proxy.testing.balancer import balancer, requests_by_line
from jupyter_fsspec_proxy.testing.replicas import NGINX_CONFIG, Load, deployment

SIZE = 64 * h.MiB
PREFIX = "/services/fsspec-proxy/fsspec-proxy/files/Bench/"


def throughput(run, rounds: int, clients: int, count: int, workdir: Path) -> dict[str, float]:
    token = {"Authorization": f"token {run.hub.token_for('bench')}"}
    with ExitStack() as stack:
        one = servers.free_port()
        stack.enter_context(balancer(one, [run.replicas[0].port], workdir, NGINX_CONFIG))
        targets = [
            servers.Server("nginx -> 1 replica", one, PREFIX, headers=token),
            servers.Server("nginx -> 2 replicas", run.hub.service_port, PREFIX, headers=token),
            servers.Server(
                "hub's proxy -> nginx -> 2", urlsplit(run.hub.url).port, PREFIX, headers=token
            ),
        ]
        for target in targets:  # warm up: the hub's answer about the token, connections
            h.range_loop(target, "big.bin", SIZE, 100)
        return alternate_best(
            rounds,
            targets,
            lambda s: h.concurrent_ranges(s, "big.bin", SIZE, clients, count)["req_s"],
        )


def kill_under_load(run, big: bytes) -> dict[str, int]:
    stop = threading.Event()
    token = run.hub.token_for("bench")
    load = [Load(n, run.hub.proxy_url, token, big, stop, "Bench") for n in range(4)]
    for each in load:
        each.start()
    time.sleep(2)
    victim = run.replicas[1]
    victim.process.kill()
    time.sleep(4)
    stop.set()
    for each in load:
        each.join(timeout=60)
    address = f"127.0.0.1:{victim.port}"
    lines = run.access_log.read_text().splitlines()
    return {
        "requests": sum(len(each.done) for each in load),
        "lost": sum(len(each.lost) for each in load),
        "moved by nginx": sum(
            len(tried) > 1 and tried[0] == address for tried in requests_by_line(run.access_log)
        ),
        "502 sent again by the client": sum(" 502 " in line and address in line for line in lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--count", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        data.mkdir()
        big = os.urandom(SIZE)
        (data / "big.bin").write_bytes(big)
        sources = [{"name": "Bench", "path": str(data)}]
        with deployment(workdir, sources, {"bench": []}, ["--ServerApp.log_level=WARN"]) as run:
            rates = throughput(run, args.rounds, args.clients, args.count, workdir)
            killed = kill_under_load(run, big)
    base = rates["nginx -> 1 replica"]
    print(f"{args.clients} connections of 4 KiB range reads, best of {args.rounds}:")
    for name, rate in rates.items():
        print(f"  {name:28} {rate:6.0f} req/s ({rate / base:.2f}x one replica)")
    print(
        "one of two replicas killed under load: " + ", ".join(f"{v} {k}" for k, v in killed.items())
    )


if __name__ == "__main__":
    main()

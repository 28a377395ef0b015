"""What the hub costs: 4 KiB range reads through JupyterHub's proxy (the service
mode, a user's hub token) against the same proxy standalone (run mode, its token).

    python benchmarks/hub.py [--rounds 3] [--count 2000]

Both serve one local file; the same keep-alive loop measures them alternately.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpbench as h
import servers
from hub_harness import jupyterhub

SIZE = 64 * h.MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root, config = servers.bench_source(workdir)
        (root / "big.bin").write_bytes(os.urandom(SIZE))
        hub_home = workdir / "hub"
        hub_home.mkdir()
        users = {"bench": []}
        with (
            servers.proxy(config, workdir) as direct,
            jupyterhub(hub_home, config, users, []) as hub,
        ):
            through = urlsplit(hub.proxy_url)
            via_hub = servers.Server(
                "through the hub",
                through.port,
                f"{through.path}files/Bench/",
                headers={"Authorization": f"token {hub.token_for('bench')}"},
            )
            direct.name = "standalone"
            for server in (direct, via_hub):  # warm up: identity caches, connections
                h.range_loop(server, "big.bin", SIZE, 200)
            best = h.alternate_best(
                args.rounds,
                [direct, via_hub],
                lambda s: h.range_loop(s, "big.bin", SIZE, args.count)["req_s"],
            )
    ratio = best["through the hub"] / best["standalone"]
    print(
        f"4 KiB range reads, one connection, {args.count} per round, best of {args.rounds}: "
        f"standalone {best['standalone']:.0f} req/s, through the hub "
        f"{best['through the hub']:.0f} req/s ({ratio:.2f}x)"
    )


if __name__ == "__main__":
    main()

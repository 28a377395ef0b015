"""Nothing happens for a caller who is not authenticated and authorized: no byte,
no directory, no answer that depends on the target, no body held in memory."""

from __future__ import annotations

import json
import threading

import pytest
from jupyter_server.auth import Authorizer

from jupyter_fsspec_proxy.testing.calls import body_json, raw_connection
from jupyter_fsspec_proxy.testing.processes import PeakRSS
from jupyter_fsspec_proxy.testing.sources import staged_uploads
from jupyter_fsspec_proxy.testing.standalone import standalone

MiB = 2**20
FORGED_XSRF = {"Cookie": "_xsrf=chosen-by-the-attacker", "X-XSRFToken": "chosen-by-the-attacker"}
TARGETS = [
    ("files/Local/new/deep/x.bin", {}),
    ("files/Local/existing.txt", {"If-None-Match": "*"}),
    ("files/NoSuchSource/x.bin", {}),
    ("files/Readonly/kept.txt", {}),
    ("files/Readonly/new.txt", {"If-Match": '"nope"'}),
    ("api/uploads/Local/new/x.bin?id=guessed&offset=0", {}),
    ("api/uploads/Readonly/kept.txt?id=guessed&offset=0", {}),
]


async def test_unauthenticated_uploads_touch_nothing_and_reveal_nothing(raw, local_root, tmp_path):
    (local_root / "existing.txt").write_text("here")
    before = sorted(p.name for p in local_root.rglob("*"))
    answers = set()
    for path, headers in TARGETS:
        response = await raw(
            path, auth=False, method="PUT", body=b"x" * MiB, headers={**FORGED_XSRF, **headers}
        )
        assert response.code == 403, path
        answers.add(response.body)
    assert len(answers) == 1  # the same answer whatever the target
    message = json.loads(answers.pop())["message"]
    assert "token" in message and "Authorization: token" in message
    assert sorted(p.name for p in local_root.rglob("*")) == before
    assert not staged_uploads(tmp_path, below=True)


class ReadOnlyAuthorizer(Authorizer):
    """Authenticated users may read, never write."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


@pytest.mark.parametrize("authorizer_class", [ReadOnlyAuthorizer])
async def test_users_who_may_not_write_are_refused_before_the_body(raw, local_root, tmp_path):
    for path, headers in TARGETS:
        response = await raw(path, method="PUT", body=b"x" * MiB, headers=headers)
        assert response.code == 403, path
    assert not (local_root / "new").exists()
    assert not staged_uploads(tmp_path, below=True)


@pytest.mark.parametrize("proxy_config", [{"max_json_body": 1024}])
async def test_json_bodies_are_bounded(raw):
    ranges = {"ranges": [{"path": "Scratch/x", "start": 0, "end": 1}] * 100}
    response = await raw("api/ranges", method="POST", body=json.dumps(ranges))
    assert response.code == 413
    assert body_json(response)["error"] == "PayloadTooLarge"


def _post_unauthenticated(port: int, size: int) -> bytes:
    """POST ``size`` bytes to api/ranges without credentials; the server's answer."""
    headers = {"Content-Type": "application/json", "Content-Length": str(size)}
    with raw_connection(port, "POST", "api/ranges", headers, timeout=30) as sock:
        block = b" " * MiB
        try:
            for _ in range(size // MiB):
                sock.sendall(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed before the body: what we want
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


@pytest.mark.slow
def test_unauthenticated_bodies_are_never_held(tmp_path):
    with standalone(tmp_path, "run", "--IdentityProvider.token=secret-token") as proxy:
        with PeakRSS(proxy.process.pid) as peak:
            answers: list[bytes] = []
            posts = [
                threading.Thread(
                    target=lambda: answers.append(_post_unauthenticated(proxy.port, 200 * MiB))
                )
                for _ in range(2)
            ]
            for post in posts:
                post.start()
            for post in posts:
                post.join(60)
        assert peak.growth_mib < 32, peak.growth_mib
    # the answers may be lost to the connection's reset: the server's log has them
    refused = proxy.log.read_text().count("FsspecProxy] 403 POST /fsspec-proxy/api/ranges")
    assert refused == 2
    assert all(a.startswith(b"HTTP/1.1 403") for a in answers if a)

"""docs/deploy/kubernetes/: the manifests are valid Kubernetes objects (kubernetes-validate,
offline, strict), and the Zero to JupyterHub values agree with them and with the
replica command of docs/scale-out.md. No cluster runs here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from jupyter_fsspec_proxy.config import parse_yaml
from jupyter_fsspec_proxy.testing.replicas import MANIFESTS, documented_start

pytestmark = pytest.mark.slow

KUBERNETES = MANIFESTS.parent
SERVICE_PATH = "/services/{name}/fsspec-proxy/"


def validate(path: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_manifests_are_valid_kubernetes_objects(tmp_path):
    done = validate(MANIFESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    # The validator does check: a field the schema lacks and a wrong type are refused.
    text = MANIFESTS.read_text()
    for broken in (
        text.replace("replicas: 2", "replicas: two"),
        text.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"),
    ):
        (tmp_path / "broken.yaml").write_text(broken)
        assert validate(tmp_path / "broken.yaml").returncode != 0


@pytest.fixture(scope="module")
def objects() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFESTS.read_text())}


def test_the_hub_values_name_the_service_the_deployment_serves(objects):
    values = yaml.safe_load((KUBERNETES / "values.yaml").read_text())
    [(name, entry)] = values["hub"]["services"].items()
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == name
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "hub",  # the chart's Secret, where it keeps the token it makes
        "key": f"hub.services.{name}.apiToken",
    }
    assert "api_token" not in entry and "command" not in entry  # external: the chart's token
    # The Service's URL, its port, the container's port and the command's --port.
    [port] = service["spec"]["ports"]
    [container_port] = container["ports"]
    assert port["targetPort"] == container_port["name"]
    assert f"--port={container_port['containerPort']}" in container["args"]
    url = f"http://{service['metadata']['name']}:{port['port']}"
    assert entry["url"] == url
    prefix = SERVICE_PATH.format(name=name)
    assert values["singleuser"]["extraEnv"]["FSSPEC_PROXY_ENDPOINT_URL"] == url + prefix
    assert f"access:services!service={name}" in values["hub"]["loadRoles"]["user"]["scopes"]
    scopes = values["hub"]["config"]["KubeSpawner"]["server_token_scopes"]
    assert f"access:services!service={name}" in scopes
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": f"{prefix}client/simple/", "port": "http"}
    # Users' pods reach the proxy's pods, which admit them.
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    [egress] = values["singleuser"]["networkPolicy"]["egress"]
    assert egress["to"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    assert egress["ports"] == [{"port": container_port["containerPort"], "protocol": "TCP"}]
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    admitted = [peer["podSelector"]["matchLabels"] for peer in policy["ingress"][0]["from"]]
    assert {"component": "singleuser-server"} in admitted and {"component": "proxy"} in admitted


def test_the_deployment_runs_the_documented_replica_command(objects):
    """The same command and environment as docs/scale-out.md's replicas, with the
    files where the pod mounts them."""
    exports, command = documented_start()
    [container] = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    documented = [word for word in command.split() if not word.startswith("--port")]
    flags = {arg.partition("=")[0]: arg.partition("=")[2] for arg in container["args"][3:]}
    assert container["args"][:3] == documented[:3] == ["jupyter", "fsspec-proxy", "hub"]
    for flag in documented[3:]:
        assert flag.partition("=")[0] in flags, flag
    names = {e["name"] for e in container["env"]}
    assert {line.split()[1].partition("=")[0] for line in exports} <= names
    mounts = {m["name"]: PurePosixPath(m["mountPath"]) for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    secret_files = {item["path"] for item in volumes["secrets"]["secret"]["items"]}
    for flag in ("--ServerApp.cookie_secret_file", "--ProxyManager.signing_key_file"):
        path = PurePosixPath(flags[flag])
        assert path.parent == mounts["secrets"] and path.name in secret_files
    config = PurePosixPath(next(e["value"] for e in container["env"]
                                if e["name"] == "FSSPEC_PROXY_CONFIG"))  # fmt: skip
    assert config.parent == mounts["config"]
    assert volumes["config"]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    sources = parse_yaml(objects["ConfigMap"]["data"][config.name], "the ConfigMap")
    assert [s.name for s in sources] == ["Team", "Home"]
    secure = container["securityContext"]
    assert secure["readOnlyRootFilesystem"] and not secure["allowPrivilegeEscalation"]
    assert objects["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    runtime = {e["name"]: e.get("value", "") for e in container["env"]}
    for variable in ("HOME", "JUPYTER_RUNTIME_DIR"):  # a read-only root: these are in /tmp
        assert any(runtime[variable].startswith(path) for path in writable), variable


def test_the_user_image_installs_the_client_from_the_service(objects):
    dockerfile = (KUBERNETES / "user-image.Dockerfile").read_text()
    [index] = re.findall(r"--index-url (\S+) fsspec-proxy-client", dockerfile)
    values = yaml.safe_load((KUBERNETES / "values.yaml").read_text())
    [name] = values["hub"]["services"]
    assert index.endswith(SERVICE_PATH.format(name=name) + "client/simple/")

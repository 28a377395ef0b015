# jupyterhub_config.py: jupyter-fsspec-proxy as a hub-managed service.
# The service process holds the config and its secrets; users' servers get none.
c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

SERVICE_URL = "http://127.0.0.1:10101"  # where the service listens

c.JupyterHub.services = [
    {
        "name": "fsspec-proxy",
        "url": SERVICE_URL,
        "command": [
            "jupyter",
            "fsspec-proxy",
            "hub",
            "--ProxyManager.audit_log=/var/log/fsspec-proxy/audit.jsonl",
        ],  # fmt: skip
        "environment": {"FSSPEC_PROXY_CONFIG": "/etc/fsspec-proxy/config.yaml"},
        "oauth_no_confirm": True,  # no "authorize this service" page for users
    },
]

# Who may reach the service at all (the config's access rules then decide per source),
# and what the service may ask the hub: who signed a signed URL, as they are now (a
# user deleted or taken out of a group stops reading through the URLs they signed).
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=fsspec-proxy"]},
    {
        "name": "fsspec-proxy-signers",
        "services": ["fsspec-proxy"],
        "scopes": ["read:users:name", "read:users:groups", "read:services:name"],
    },
]

# Kernels in users' servers: where the proxy is, and a server token that may use it.
# The service's own URL (users' servers on this machine reach it) spares them the
# hub's proxy; see docs/jupyterhub.md for when to give the hub's public URL instead.
c.Spawner.environment = {
    "FSSPEC_PROXY_ENDPOINT_URL": f"{SERVICE_URL}/services/fsspec-proxy/fsspec-proxy/",
}
# The Storage panel of users' JupyterLab: the service on the hub's own origin, where
# the browser comes with the user's hub login (docs/jupyterlab.md).
c.Spawner.args = ["--FsspecProxy.drive_url=/services/fsspec-proxy/fsspec-proxy/"]
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=fsspec-proxy",
]

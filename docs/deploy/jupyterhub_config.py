# jupyterhub_config.py: jupyter-fsspec-proxy as a hub-managed service.
# The service process holds the config and its secrets; users' servers get none.
c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

c.JupyterHub.services = [
    {
        "name": "fsspec-proxy",
        "url": "http://127.0.0.1:10101",
        "command": [
            "jupyter",
            "fsspec-proxy",
            "hub",
            "--FsspecProxy.audit_log=/var/log/fsspec-proxy/audit.jsonl",
        ],  # fmt: skip
        "environment": {"FSSPEC_PROXY_CONFIG": "/etc/fsspec-proxy/config.yaml"},
        "oauth_no_confirm": True,  # no "authorize this service" page for users
    },
]

# Who may reach the service at all (the config's access rules then decide per source).
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=fsspec-proxy"]},
]

# Kernels in users' servers: where the proxy is, and a server token that may use it.
c.Spawner.environment = {
    "FSSPEC_PROXY_ENDPOINT_URL": "https://hub.example.org/services/fsspec-proxy/fsspec-proxy/",
}
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=fsspec-proxy",
]

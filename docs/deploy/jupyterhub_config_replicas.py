# jupyterhub_config.py: jupyter-fsspec-proxy as ONE externally managed service that
# several replicas serve behind nginx (docs/deploy/nginx-hub.conf). The hub starts
# nothing: it sends /services/fsspec-proxy/ to nginx and knows the service's token,
# which every replica holds as JUPYTERHUB_API_TOKEN (see docs/scale-out.md).
import os

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

SERVICE_URL = "http://127.0.0.1:10101"  # nginx, in front of the replicas

c.JupyterHub.services = [
    {
        "name": "fsspec-proxy",
        "url": SERVICE_URL,
        "api_token": os.environ["FSSPEC_PROXY_SERVICE_TOKEN"],
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

# Kernels in users' servers on this machine reach nginx directly, not through the
# hub's proxy; their server token may use the service.
c.Spawner.environment = {
    "FSSPEC_PROXY_ENDPOINT_URL": f"{SERVICE_URL}/services/fsspec-proxy/fsspec-proxy/",
}
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=fsspec-proxy",
]

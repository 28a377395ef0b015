pytest_plugins = ["pytest_jupyter.jupyter_server", "jupyter_fsspec_proxy.testing.pytest_plugin"]

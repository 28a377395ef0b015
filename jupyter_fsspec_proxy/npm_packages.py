"""The npm packages of the browser pages, pinned: Pyodide and PyScript, and the
JavaScript modules the app imports in the page (the Parquet reader)."""

from __future__ import annotations

RUNTIMES = {"pyodide": "314.0.6", "@pyscript/core": "0.7.31"}
# The app asks for ``{FsspecProxy.app_npm_url}{name}@{version}/{file}``, as jsDelivr
# serves npm packages; ``jupyter fsspec-proxy offline`` lays a copy out the same way.
APP_MODULES = {
    "hyparquet": "1.33.0",
    "hyparquet-compressors": "1.1.2",
    "fzstd": "0.1.1",  # hyparquet-compressors' own dependencies, pinned exactly by it
    "hysnappy": "1.1.1",
}
# What to name in ``npm install`` (it brings the dependencies).
INSTALLED = {
    **RUNTIMES,
    **{name: APP_MODULES[name] for name in ("hyparquet", "hyparquet-compressors")},
}
NPM_INSTALL = "npm install " + " ".join(f"{name}@{version}" for name, version in INSTALLED.items())


def app_module_folder(name: str) -> str:
    """Where package ``name`` is under ``app_npm_url``."""
    return f"{name}@{APP_MODULES[name]}"

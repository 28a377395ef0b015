"""``jupyter fsspec-proxy offline DIR``: make a folder serve Pyodide, PyScript and the
app's JavaScript modules with no CDN and no PyPI at run time, for the app and for a
JupyterLite site.

Before it, in DIR: the ``npm install`` of ``npm_packages.NPM_INSTALL``. It then copies
Pyodide and PyScript to ``DIR/static/pyodide`` and ``DIR/static/pyscript`` and the
app's modules (hyparquet and its decompressors) to ``DIR/static/npm/NAME@VERSION``,
downloads from PyPI the wheels the Pyodide lock pins for the client and the
JupyterLite kernel (micropip, packaging, fsspec, IPython and its dependencies, jedi,
parso) and rewrites the lock to them, puts ``comm`` (imported by the kernel, missing
from the lock) in ``DIR/pypi``, and writes ``DIR/jupyter-lite.json`` so that ``%pip
install fsspec-proxy-client`` takes the proxy's own wheel and never falls back to
PyPI, and the site's landing page opens the REPL. A JupyterLite build run before in
DIR or in the current directory left a build cache that would skip those settings on
the next build: it is removed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .npm_packages import APP_MODULES, NPM_INSTALL, app_module_folder

KERNEL_NEEDS = ("micropip", "packaging", "fsspec", "ipython", "jedi", "parso")
UNLOCKED = ("comm",)
LITE_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
# JupyterLite's build cache, in the folder a build runs in: it records the site's
# jupyter-lite.json as merged, so an unchanged one is skipped on a build into a new
# or emptied output folder, and the site loses the settings written here.
LITE_BUILD_CACHE = ".jupyterlite.doit.db"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: dict, names: Iterable[str]) -> dict[str, str]:
    """``{lock name: version}`` for ``names`` and all they depend on in the lock (whose
    names are not normalized)."""
    packages = lock["packages"]
    keys = {normalize(key): key for key in packages}
    wanted: dict[str, str] = {}
    todo = list(names)
    while todo:
        key = keys.get(normalize(todo.pop()))
        if key is not None and key not in wanted:
            wanted[key] = packages[key]["version"]
            todo.extend(packages[key]["depends"])
    return wanted


def pip_arguments(lock: dict, names: Iterable[str]) -> list[str]:
    """``pip download`` arguments for those wheels, for the lock's Python."""
    python = ".".join(lock["info"]["python"].split(".")[:2])
    pins = [f"{name}=={version}" for name, version in sorted(locked(lock, names).items())]
    return ["--python-version", python, *pins]


def localize(pyodide: Path, wheels: Iterable[Path]) -> None:
    """Put the wheels of packages the lock names next to Pyodide and point the lock
    at them (file name, version, sha256), so ``loadPackage`` works offline."""
    lock_path = pyodide / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    keys = {normalize(key): key for key in lock["packages"]}
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        if normalize(name) not in keys:
            continue
        if wheel.parent != pyodide:
            shutil.copy(wheel, pyodide / wheel.name)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entry = lock["packages"][keys[normalize(name)]]
        entry.update(file_name=wheel.name, version=version, sha256=digest)
    lock_path.write_text(json.dumps(lock))


def download(arguments: list[str], target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary=:all:", "-d", str(target), *arguments]
    subprocess.run(command, check=True)
    return sorted(target.glob("*.whl"))


def copy_app_modules(modules: Path, target: Path) -> None:
    """The app's npm packages, each to ``target/NAME@VERSION``; raises SystemExit if
    one is missing or of another version than the app asks for."""
    shutil.rmtree(target, ignore_errors=True)
    for name, version in APP_MODULES.items():
        manifest = modules / name / "package.json"
        found = json.loads(manifest.read_text())["version"] if manifest.is_file() else None
        if found != version:
            what = f"{name} {found}" if found else f"no {name}"
            raise SystemExit(f"The app needs {name} {version}, found {what}: run {NPM_INSTALL}")
        ignore = shutil.ignore_patterns("node_modules")
        shutil.copytree(modules / name, target / app_module_folder(name), ignore=ignore)


def write_lite_settings(site: Path, base_url: str) -> None:
    """``site/jupyter-lite.json``: the proxy's client index, no PyPI fallback, the REPL
    as the landing page (unless the file names another app)."""
    config_path = site / "jupyter-lite.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("jupyter-lite-schema-version", 0)
    data = config.setdefault("jupyter-config-data", {})
    data.setdefault("appUrl", "./repl")
    kernel = data.setdefault("litePluginSettings", {}).setdefault(LITE_SETTINGS, {})
    kernel["disablePyPIFallback"] = True
    kernel["pipliteUrls"] = [f"{base_url.rstrip('/')}/fsspec-proxy/client/all.json"]
    config_path.write_text(json.dumps(config, indent=2))
    for folder in (site, Path.cwd()):
        (folder / LITE_BUILD_CACHE).unlink(missing_ok=True)


def prepare(site: Path, base_url: str = "/") -> None:
    """Everything above, in ``site``; raises SystemExit with what is missing."""
    modules = site / "node_modules"
    pyodide_npm, pyscript_npm = modules / "pyodide", modules / "@pyscript" / "core" / "dist"
    if not (pyodide_npm / "pyodide-lock.json").is_file() or not pyscript_npm.is_dir():
        raise SystemExit(f"No npm packages in {site}: first run, in it, {NPM_INSTALL}")
    static = site / "static"
    copy_app_modules(modules, static / "npm")
    pyodide = static / "pyodide"
    shutil.rmtree(pyodide, ignore_errors=True)
    shutil.copytree(pyodide_npm, pyodide)
    shutil.rmtree(static / "pyscript", ignore_errors=True)
    shutil.copytree(pyscript_npm, static / "pyscript")
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        localize(pyodide, download(pip_arguments(lock, KERNEL_NEEDS), Path(tmp)))
    download(list(UNLOCKED), site / "pypi")
    write_lite_settings(site, base_url)


def main(args: list[str]) -> None:
    """``jupyter fsspec-proxy offline DIR [--base-url=/]``."""
    base_url = next((a.split("=", 1)[1] for a in args if a.startswith("--base-url=")), "/")
    folders = [a for a in args if not a.startswith("--")]
    if len(folders) != 1:
        raise SystemExit("usage: jupyter fsspec-proxy offline DIR [--base-url=/]")
    prepare(Path(folders[0]), base_url)
    print(
        f"{folders[0]} is ready: jupyter lite build --lite-dir {folders[0]} --output-dir SITE, "
        "and serve static/ for the app (see docs/pyscript.md)"
    )

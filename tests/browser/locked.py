"""Print pip arguments for wheels as the npm Pyodide's lock pins them: its
Python version, then `name==version` for the named packages and everything
they depend on in the lock (whose names are not normalized)."""

import json
import re
import sys
from pathlib import Path

LOCK = Path(__file__).parent / "node_modules" / "pyodide" / "pyodide-lock.json"
lock = json.loads(LOCK.read_text())
packages = lock["packages"]
keys = {re.sub(r"[-_.]+", "-", key).lower(): key for key in packages}
wanted, todo = {}, list(sys.argv[1:])
while todo:
    key = keys.get(re.sub(r"[-_.]+", "-", todo.pop()).lower())
    if key is not None and key not in wanted:
        wanted[key] = packages[key]["version"]
        todo.extend(packages[key]["depends"])
python = ".".join(lock["info"]["python"].split(".")[:2])
print(" ".join(["--python-version", python, *(f"{k}=={v}" for k, v in sorted(wanted.items()))]))

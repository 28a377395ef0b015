"""Print pip arguments for wheels as the npm Pyodide's lock pins them:
its Python version, then `name==version` for each package named."""

import json
import sys
from pathlib import Path

LOCK = Path(__file__).parent / "node_modules" / "pyodide" / "pyodide-lock.json"
lock = json.loads(LOCK.read_text())
python = ".".join(lock["info"]["python"].split(".")[:2])
pins = [f"{name}=={lock['packages'][name]['version']}" for name in sys.argv[1:]]
print(" ".join(["--python-version", python, *pins]))

"""Print pip arguments for wheels as the npm Pyodide's lock pins them: its Python
version, then `name==version` for the named packages and all they depend on."""

import json
import sys
from pathlib import Path

from jupyter_fsspec_proxy.offline import pip_arguments

LOCK = Path(__file__).parent / "node_modules" / "pyodide" / "pyodide-lock.json"
print(" ".join(pip_arguments(json.loads(LOCK.read_text()), sys.argv[1:])))

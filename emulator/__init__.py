"""Local AWS emulator: moto 5.2.5 in server mode plus the CloudFormation pieces
moto lacks (see ``emulator.providers`` and ``emulator.noop_update``).

Run it from its own virtualenv (``emulator/requirements.txt``) with
``python -m emulator --host 127.0.0.1 --port 4566``. This package's top level
and ``emulator.process`` import no moto, so the project's venv can use them to
start and stop the emulator as a subprocess.
"""

import sys
from pathlib import Path

# The platform's limits and names (tunnel_shared) live in functions/, which ship in the function
# zips: the emulator's own virtualenv reads them from there.
_FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.append(_FUNCTIONS)

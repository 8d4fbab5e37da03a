"""Shared fixtures. Every test writes under tmp_path; nothing touches the home folder or a hub."""
import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
_tmp = Path(tempfile.mkdtemp(prefix="glalign-tests-"))
for var in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
    os.environ.setdefault(var, str(_tmp / var.lower()))
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_cli():
    """Run `python -m glalign ARGS` in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    def _run(*args, input=None, check=False):
        return subprocess.run([sys.executable, "-m", "glalign", *map(str, args)], input=input,
                              capture_output=True, text=True, check=check, cwd=REPO)
    return _run

"""Shared fixtures. Every test writes under tmp_path; nothing touches the home folder or a hub."""
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
_tmp = Path(tempfile.mkdtemp(prefix="glalign-tests-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
for var in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
    os.environ.setdefault(var, str(_tmp / var.lower()))
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent


def _cli_subprocess(*args, input=None, check=False):
    import subprocess

    return subprocess.run([sys.executable, "-m", "glalign", *map(str, args)], input=input,
                          capture_output=True, text=True, check=check, cwd=REPO)


def _cli_in_process(*args, input=None, check=False):
    """`glalign ARGS` through glalign.cli.main in this process: the same parser, command and error
    handling, without a new interpreter importing torch again. stdout, stderr and stdin are
    redirected; every warning is shown (a fresh process would show each once); the working folder
    is the repository's, as for the subprocess."""
    import contextlib
    import io
    import subprocess
    import warnings

    from glalign.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode("utf-8")), encoding="utf-8")
    saved_stdin, saved_cwd = sys.stdin, os.getcwd()
    sys.stdin = stdin
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("always")
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help (0) and refused arguments (2)
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, _ = saved_stdin, os.chdir(saved_cwd)
    res = subprocess.CompletedProcess(["glalign", *argv], code, out.getvalue(), err.getvalue())
    if check:
        res.check_returncode()
    return res


@pytest.fixture
def run_cli():
    """Run `glalign ARGS` in this process (glalign.cli.main, output captured); returns a
    CompletedProcess (text). Where the process itself is under test, use run_cli_subprocess."""
    return _cli_in_process


@pytest.fixture
def run_cli_subprocess():
    """Run `python -m glalign ARGS` in a subprocess; returns CompletedProcess (text)."""
    return _cli_subprocess


@pytest.fixture(scope="session")
def synth_a(tmp_path_factory):
    """A small SynthPEDES domain A shared by the tests (read-only use). No validation split: two
    identities would choose epochs by noise (tests/test_validation.py has its own domain)."""
    from glalign.data.synth import generate_domain

    root = tmp_path_factory.mktemp("synth") / "A"
    generate_domain(root, "A", n_ids=24, seed=3, progress=False, val_ids=0)
    return root


@pytest.fixture(scope="session")
def tiny_run(synth_a, tmp_path_factory):
    """A tiny trained run (4 epochs) shared by evaluation and search tests. Trained on one thread,
    whatever OMP_NUM_THREADS says: the float sums' order, so its bytes, depend on the thread count
    (tests/test_contract_digests.py holds them)."""
    import torch

    from glalign.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig.for_profile("tiny", data=[str(synth_a)], lang="en", out=str(out), epochs=4, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(cfg, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def tiny_workspace_seed(tmp_path_factory):
    """The tiny profile's datasets, pretrained stand-ins (SynthCLIP, SynthPhoBERT, SynthParser) and
    SynthParser masks, built once per test run and shared by the xdist workers (the first one builds
    under a lock, the others wait for it). Tests never write here: `tiny_workdir` copies it."""
    import fcntl

    from glalign.scenarios import Workspace

    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # one per `pytest -n` run, the same in every worker
    base = tmp_path_factory.getbasetemp()
    root = base.parent / f"tiny-seed-{uid}" if uid else base / "tiny-seed"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (root / "complete").exists():
                import torch

                threads = torch.get_num_threads()
                torch.set_num_threads(1)  # the bytes of what is trained here do not depend on OMP_NUM_THREADS
                try:
                    ws = Workspace("tiny", root / "tiny")
                    ws.pretrained("clip")
                    ws.pretrained("phobert")
                    for name in ("A", "B"):
                        ws.masks(name)
                finally:
                    torch.set_num_threads(threads)
                (root / "complete").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root / "tiny"


@pytest.fixture(scope="session")
def tiny_workdir(tiny_workspace_seed):
    """tiny_workdir(dest): a private copy of the seeded tiny workspace at dest (a Workspace finds its
    cache by content, so nothing in it is built again)."""
    def _copy(dest):
        shutil.copytree(tiny_workspace_seed, dest, symlinks=True)
        return dest
    return _copy

"""Where `glalign reproduce --verify` finds the two runs' tables (a rerun's folder, the committed
results at git HEAD) and how one table is read: a readable CSV with the key columns its spec names."""
from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pandas as pd

from glalign.errors import GlalignError
from glalign.repro.verify_specs import TableSpec


def tables_dir(path) -> Path:
    """A results folder (holding tables/) or its tables/ folder itself."""
    path = Path(path)
    if not path.exists():
        raise GlalignError(f"{path} does not exist; pass the results folder of a rerun "
                           "(`glalign reproduce --results ROOT` writes ROOT/<profile>)")
    tables = path / "tables" if (path / "tables").is_dir() else path
    if not tables.is_dir() or not any(tables.glob("*.csv")):
        raise GlalignError(f"{path} holds no tables (no tables/*.csv); pass the folder `glalign reproduce` wrote, "
                           "e.g. results/<profile>")
    return tables


def committed_tables(profile: str, tmp: Path) -> Path:
    """results/<profile>/tables as committed at git HEAD (a rerun in the checkout replaces the working
    tree's copy), extracted under tmp; the working tree's folder when this is no git checkout."""
    from glalign.repro.reproduce import REPO

    rel = f"results/{profile}/tables"
    try:
        blob = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", rel],
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        folder = REPO / rel
        if folder.is_dir():
            return folder
        raise GlalignError(f"no committed results for profile {profile!r} ({folder} is missing and {REPO} is no "
                           "git checkout); pass the folder to compare with as --reference DIR") from None
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        try:
            tar.extractall(tmp, filter="data")
        except TypeError:  # Python before 3.11.4: no filter (the archive is git's own, of this checkout)
            tar.extractall(tmp)
    return tmp / rel


def read_table(path: Path, spec: TableSpec | None) -> pd.DataFrame:
    """The CSV table at path, with the key columns of its spec (if any); a GlalignError otherwise."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GlalignError(f"{path}: not a readable CSV table ({exc}); rerun the notebook that writes it") from None
    missing = [k for k in (spec.keys if spec else ()) if k not in frame.columns]
    if missing:
        raise GlalignError(f"{path}: missing column(s) {', '.join(missing)}; it was not written by this glalign "
                           "version: rerun `glalign reproduce`")
    return frame

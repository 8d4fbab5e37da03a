"""glalign reproduce on the tiny profile: tables and executed notebooks appear; a failing notebook
is named with its cell and leaves the earlier results intact."""
import json
import shutil

import nbformat
import pandas as pd
import pytest

from glalign.errors import GlalignError
from glalign.reproduce import REPO, reproduce


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    out = reproduce("tiny", results_root=root / "results", workdir=root / "work", only=["01", "04"], progress=False)
    return root, out


def test_reproduce_writes_tables_notebooks_summary(tiny_results):
    root, out = tiny_results
    assert (out / "notebooks" / "01_data_prep.ipynb").exists()
    nb = nbformat.read(out / "notebooks" / "04_evaluate_scenarios.ipynb", as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")  # executed copy, with outputs
    sc = pd.read_csv(out / "tables" / "scenarios.csv")
    assert list(sc.columns[:11]) == ["scenario", "variant", "train", "test", "lang", "R1", "R5", "R10", "mAP",
                                     "mINP", "n_queries"]
    assert list(sc.scenario) == ["SE1", "SE2", "SE3", "SE4", "SV1", "SV2", "SV3"]
    assert (sc.R1 <= sc.R10).all()
    assert "## Scenarios (Tables 4-10)" in (out / "summary.md").read_text()
    assert not list((root / "results").glob(".staging*"))
    for nb in (out / "notebooks").glob("*.ipynb"):  # papermill's injected paths name the final folder
        text = nb.read_text()
        assert ".staging-" not in text and str(REPO) not in text and str(out.resolve()) in text, nb.name


def test_failure_names_notebook_and_cell_and_keeps_results(tiny_results, tmp_path):
    root, out = tiny_results
    before = (out / "tables" / "scenarios.csv").read_bytes()
    nbdir = tmp_path / "nbs"
    shutil.copytree(REPO / "notebooks", nbdir)
    nb = nbformat.read(nbdir / "01_data_prep.ipynb", as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('boom')"))  # early: nothing trained
    nbformat.write(nb, nbdir / "01_data_prep.ipynb")
    with pytest.raises(GlalignError, match=r"notebook 01_data_prep failed in cell \d+: RuntimeError: boom"):
        reproduce("tiny", results_root=root / "results", workdir=root / "work", only=["01"], progress=False,
                  notebooks_dir=nbdir)
    assert (out / "tables" / "scenarios.csv").read_bytes() == before


def test_notebooks_are_stored_clean_with_parameters():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        assert "parameters" in code[0]["metadata"].get("tags", []), path.name
        assert 'profile = "tiny"' in "".join(code[0]["source"])


def test_unknown_only(tmp_path):
    with pytest.raises(GlalignError, match="names no notebook"):
        reproduce("tiny", results_root=tmp_path, workdir=tmp_path / "w", only=["99"], progress=False)

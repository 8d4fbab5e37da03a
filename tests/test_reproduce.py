"""glalign reproduce on the tiny profile: tables and executed notebooks appear, with their figures
inline; a failing notebook is named with its cell and leaves the earlier results intact; papermill
parameters are parameters (never overwritten after their cell, and a passed value takes effect)."""
import ast
import json
import shutil

import nbformat
import pandas as pd
import pytest

from glalign.errors import GlalignError
from glalign.reproduce import REPO, reproduce


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory, tiny_workdir):
    root = tmp_path_factory.mktemp("repro")
    tiny_workdir(root / "work")  # datasets, pretrained folders and masks made once per test run
    out = reproduce("tiny", results_root=root / "results", workdir=root / "work", only=["00", "01", "04"], progress=False)
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


def _figures(nb) -> tuple[int, int]:
    """(image/png outputs, ctx.save_figure calls) of an executed notebook."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    pngs = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    return pngs, sum(c.source.count("ctx.save_figure(") for c in code)


def test_executed_notebooks_embed_the_figures_they_save(tiny_results):
    root, out = tiny_results
    executed = sorted((out / "notebooks").glob("*.ipynb"))
    assert {p.stem for p in executed} >= {"00_method", "01_data_prep", "04_evaluate_scenarios"}
    for path in executed:
        pngs, saved = _figures(nbformat.read(path, as_version=4))
        assert saved > 0 and pngs >= saved, f"{path.name}: {pngs} inline images for {saved} saved figures"
    assert (out / "figures" / "method_similarity_fitted.png").exists()


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


def _parameters(nb) -> tuple[set, list]:
    """Names the parameters cell assigns, and the code cells after it (magics dropped)."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    names = {t.id for node in ast.parse("".join(code[0]["source"])).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    rest = ["\n".join(line for line in "".join(c["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
            for c in code[1:]]
    return names, rest


def test_parameters_are_never_overwritten_after_their_cell():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        names, rest = _parameters(json.loads(path.read_text()))
        assert {"profile", "workdir", "results_dir"} <= names, path.name
        for i, src in enumerate(rest, start=2):
            stored = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            assert not stored & names, f"{path.name}: code cell {i} overwrites parameter(s) {sorted(stored & names)}"
    assert {"scenario", "alpha"} <= _parameters(json.loads((REPO / "notebooks" / "03_train.ipynb").read_text()))[0]
    assert {"query", "top_k"} <= _parameters(json.loads((REPO / "notebooks" / "07_search_and_failures.ipynb").read_text()))[0]


def test_a_passed_parameter_takes_effect(tmp_path):
    """The method notebook run by papermill with a non-default alpha: its loss table is built with it."""
    import papermill as pm

    pm.execute_notebook(str(REPO / "notebooks" / "00_method.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        parameters={"alpha": 0.25, "fit_steps": 2, "results_dir": str(tmp_path / "res")},
                        cwd=str(REPO / "notebooks"), progress_bar=False)
    losses = pd.read_csv(tmp_path / "res" / "tables" / "method_losses.csv")
    assert (losses.alpha == 0.25).all()
    g, loc, total = losses.glalign
    assert total == pytest.approx(0.25 * g + 0.75 * loc, rel=1e-5) and total != pytest.approx(0.5 * (g + loc), rel=1e-5)


def test_results_dir_defaults_to_the_profile(tmp_path):
    from glalign.reproduce import notebook_context

    assert notebook_context("tiny", tmp_path / "w").results == REPO / "results" / "tiny"

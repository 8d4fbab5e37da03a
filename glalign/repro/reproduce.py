"""`glalign reproduce`: run notebooks 00-08 (the method walk-through, then the pipeline) with papermill into results/<profile>/.

Everything is executed into a staging folder first; only when every notebook succeeds does it
replace the previous results, so a failure (named by notebook and cell) leaves them intact."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from glalign.errors import GlalignError
from glalign.io import atomic_dir

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ("00_method", "01_data_prep", "02_np_coverage", "03_train", "04_evaluate_scenarios", "05_mcnemar", "06_ablation",
             "07_search_and_failures", "08_rogle")


def default_workdir(profile: str) -> Path:
    """Datasets and runs are cached here: GLALIGN_WORKDIR, else ./work/<profile> in a checkout,
    else a folder under the system temp dir (never the home folder)."""
    if os.environ.get("GLALIGN_WORKDIR"):
        return Path(os.environ["GLALIGN_WORKDIR"]) / profile
    if (REPO / "pyproject.toml").exists() and os.access(REPO, os.W_OK):
        return REPO / "work" / profile
    return Path(tempfile.gettempdir()) / "glalign-work" / profile


@dataclass
class NotebookContext:
    """What a notebook needs: the workspace and where its tables and figures go."""
    ws: object
    results: Path

    @property
    def tables(self) -> Path:
        return self.results / "tables"

    @property
    def figures(self) -> Path:
        return self.results / "figures"

    def save_table(self, name: str, frame) -> Path:
        from glalign.io import write_csv

        path = self.tables / f"{name}.csv"
        write_csv(path, frame)
        return path

    def save_figure(self, name: str, fig) -> Path:
        from glalign.io import atomic_path
        from glalign.repro.plots import SAVE_DPI

        path = self.figures / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=SAVE_DPI, bbox_inches="tight")
        return path

    def table(self, name: str):
        import pandas as pd

        return pd.read_csv(self.tables / f"{name}.csv")


def default_results_dir(profile: str) -> Path:
    """Where a notebook run without `results_dir` writes its tables and figures: results/<profile>
    in a writable checkout (where `glalign reproduce` puts them), else a folder under the system
    temp dir."""
    if (REPO / "pyproject.toml").exists() and os.access(REPO, os.W_OK):
        return REPO / "results" / profile
    return Path(tempfile.gettempdir()) / "glalign-results" / profile


def notebook_context(profile: str = "tiny", workdir=None, results_dir=None) -> NotebookContext:
    from glalign.repro.workspace import Workspace

    ws = Workspace(profile, Path(workdir) if workdir else default_workdir(profile))
    results = Path(results_dir) if results_dir else default_results_dir(profile)
    (results / "tables").mkdir(parents=True, exist_ok=True)
    (results / "figures").mkdir(parents=True, exist_ok=True)
    return NotebookContext(ws=ws, results=results)


def _merge_timings(stage: Path, timings: dict) -> dict:
    """Keep the run time of notebooks a partial run (--only) did not execute."""
    import pandas as pd

    from glalign.io import write_csv

    path = stage / "tables" / "runtime.csv"
    merged = dict(pd.read_csv(path).itertuples(index=False)) if path.exists() else {}
    merged.update(timings)
    merged = {n: merged[n] for n in NOTEBOOKS if n in merged}
    write_csv(path, pd.DataFrame({"notebook": list(merged), "seconds": list(merged.values())}))
    return merged


def scrub_machine_paths(notebook: Path, replacements: dict[str, str]) -> None:
    """Rewrite the machine's folders in an executed notebook (papermill's injected parameters, its
    metadata, printed paths) as paths relative to the repository, so the committed copy a reader
    opens shows no temporary clone or staging folder. Longest paths are replaced first."""
    from glalign.io import write_text

    text = notebook.read_text(encoding="utf-8")
    for old in sorted(replacements, key=len, reverse=True):
        text = text.replace(old, replacements[old])
    write_text(notebook, text)


def _relative_names(stage: Path, final: Path, workdir: Path) -> dict[str, str]:
    """Staging folder -> the final results folder; folders inside the repository -> relative paths
    (folders a user chose outside it stay as they are: they are that user's)."""
    def rel(path: Path) -> str:
        try:
            return path.resolve().relative_to(REPO).as_posix()
        except ValueError:
            return str(path.resolve())
    return {str(stage.resolve()): rel(final), str(stage): rel(final), str(workdir.resolve()): rel(workdir),
            str(workdir): rel(workdir), f"{REPO}/": "", str(REPO): "."}


def reproduce(profile: str = "synthpedes", results_root="results", workdir=None, only=None, kernel: str = "python3",
              progress: bool = True, notebooks_dir=None) -> Path:
    import papermill as pm

    results_root = Path(results_root)
    final = results_root / profile
    workdir = Path(workdir) if workdir else default_workdir(profile)
    names = [n for n in NOTEBOOKS if not only or n[:2] in only or n in only]
    if not names:
        raise GlalignError(f"--only {' '.join(only)} names no notebook; choose from {', '.join(n[:2] for n in NOTEBOOKS)}")
    results_root.mkdir(parents=True, exist_ok=True)
    for leftover in results_root.glob(f".staging-{profile}-*"):  # of a run that was killed or failed
        shutil.rmtree(leftover, ignore_errors=True)
    kept = lambda stage: any((stage / "notebooks").glob("*.ipynb"))  # noqa: E731  (a failed notebook, to read)
    with atomic_dir(final, prefix=f".staging-{profile}-", aside=f".old-{profile}", keep_on_error=kept) as stage:
        if only and final.exists():  # a partial run starts from the current results
            shutil.copytree(final, stage, dirs_exist_ok=True)
        (stage / "notebooks").mkdir(exist_ok=True)
        timings = {}
        for name in names:
            src = Path(notebooks_dir or REPO / "notebooks") / f"{name}.ipynb"
            if not src.exists():
                raise GlalignError(f"notebook {src} is missing")
            t0 = time.perf_counter()
            if progress:
                print(f"[reproduce] {name} ...", flush=True)
            try:
                pm.execute_notebook(str(src), str(stage / "notebooks" / f"{name}.ipynb"), kernel_name=kernel,
                                    parameters={"profile": profile, "workdir": str(workdir),
                                                "results_dir": str(stage.resolve())},
                                    cwd=str(REPO / "notebooks"), progress_bar=False)
            except pm.PapermillExecutionError as exc:
                raise GlalignError(f"notebook {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                                   f"(executed copy: {stage / 'notebooks' / (name + '.ipynb')}; previous results "
                                   f"in {final} are untouched)") from None
            scrub_machine_paths(stage / "notebooks" / f"{name}.ipynb", _relative_names(stage, final, workdir))
            timings[name] = time.perf_counter() - t0
            if progress:
                print(f"[reproduce] {name} done in {timings[name]:.0f} s", flush=True)
        from glalign.repro.summary import write_summary

        write_summary(stage, profile, _merge_timings(stage, timings))
    return final

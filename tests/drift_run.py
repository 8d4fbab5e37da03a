"""One run of the tiny pipeline at a fixed torch thread count, its tables written as the notebooks
write them, so that `glalign reproduce --verify` can compare two of them (results/DRIFT.md).

    python tests/drift_run.py --threads 1 --work W1 --out R1/tiny
    python tests/drift_run.py --threads 2 --work W2 --out R2/tiny
    glalign reproduce --verify R2/tiny --reference R1/tiny

It runs what notebooks 01-04 compute for the tiny profile (SynthParser's IoU, NP coverage, SynthCLIP
and SynthPhoBERT, the fine-tuned runs of the scenario grid and their per-query outcomes) in this
process, with no worker processes, so the thread count is the one asked for (about 30 s on one core).
test_verify.py runs it at 1 and 2 threads, scenario SE1 only."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _pipeline(work: Path, out: Path, scenarios: tuple[str, ...]) -> None:
    import pandas as pd

    from glalign.io import write_csv
    from glalign.scenarios import SCENARIOS, VARIANTS, Workspace, scenario_table
    from glalign.text.coverage import coverage_table

    ws = Workspace("tiny", work)
    tables = out / "tables"
    ws.pretrain_all(workers=1)
    write_csv(tables / "parser_iou.csv", ws.parser_iou(("A", "B")))
    cov = []
    for dom in ("A", "B"):
        for lang in ("en", "vi"):
            for mode in ("paper", "extended"):
                t, _ = coverage_table(ws.domain(dom), lang, mode)
                t.insert(0, "domain", dom)
                cov.append(t)
    write_csv(tables / "np_coverage.csv", pd.concat(cov, ignore_index=True))
    hist = [pd.read_csv(ws.pretrained(k) / "history.csv").assign(model=m)
            for k, m in (("clip", "SynthCLIP"), ("phobert", "SynthPhoBERT"))]
    write_csv(tables / "pretraining_history.csv", pd.concat(hist))
    grid = [dict(domains=SCENARIOS[s].train, lang=SCENARIOS[s].lang, alpha=VARIANTS["full"]) for s in scenarios]
    ws.train_all(grid, workers=1)
    sc = SCENARIOS["SE1"]
    write_csv(tables / "training_history.csv",
              pd.read_csv(ws.run(sc.train, sc.lang, 0.5) / "history.csv").assign(scenario="SE1"))
    table, results = scenario_table(ws, scenarios)
    write_csv(tables / "scenarios.csv", table)
    for name, res in results.items():
        write_csv(tables / f"per_query_{name}_full.csv", res.per_query)


def main(argv=None) -> int:
    from glalign.scenarios import SCENARIOS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--work", required=True, help="workspace (datasets, pretrained folders, runs)")
    p.add_argument("--out", required=True, help="results folder; tables/ is written under it")
    p.add_argument("--scenarios", nargs="+", choices=tuple(SCENARIOS), default=tuple(SCENARIOS),
                   help="the scenarios evaluated (default: all seven)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    _pipeline(Path(args.work), Path(args.out), tuple(args.scenarios))
    print(f"threads={torch.get_num_threads()} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

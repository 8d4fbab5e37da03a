"""One run of the tiny pipeline at a fixed torch thread count, its tables written as the notebooks
write them, so that `glalign reproduce --verify` can compare two of them (results/DRIFT.md).

    python tests/drift_run.py --threads 1 --work W1 --out R1/tiny
    python tests/drift_run.py --threads 2 --work W2 --out R2/tiny
    glalign reproduce --verify R2/tiny --reference R1/tiny

--mode unit trains one tiny run on a small domain A (the test at two thread counts, test_verify.py);
--mode pipeline runs what notebooks 01-04 compute for the tiny profile (SynthCLIP, SynthPhoBERT,
SynthParser, the fine-tuned runs of the scenario grid), in this process (no worker processes: the
thread count is the one asked for)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _unit(work: Path, out: Path) -> None:
    import pandas as pd

    from glalign.data.synth import generate_domain
    from glalign.evaluate import evaluate_run
    from glalign.io import write_csv
    from glalign.scenarios import SCENARIOS, result_row
    from glalign.train import TrainConfig, train

    data = work / "A"
    generate_domain(data, "A", n_ids=16, seed=3, progress=False)
    cfg = TrainConfig.for_profile("tiny", data=[str(data)], lang="en", out=str(work / "run"), epochs=1, device="cpu")
    run = train(cfg, progress=False, overwrite=True)
    result = evaluate_run(run, data, split="test", lang="en", progress=False)
    row = result_row("SE1", "full", result)
    row.update(train=SCENARIOS["SE1"].train[0] + "-EN")
    write_csv(out / "tables" / "scenarios.csv", pd.DataFrame([row]))
    write_csv(out / "tables" / "per_query_SE1_full.csv", result.per_query)
    write_csv(out / "tables" / "training_history.csv", pd.read_csv(run / "history.csv").assign(scenario="SE1"))


def _pipeline(work: Path, out: Path) -> None:
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
    grid = [dict(domains=SCENARIOS[s].train, lang=SCENARIOS[s].lang, alpha=VARIANTS["full"])
            for s in ("SE4", "SE2", "SE1", "SV1")]
    ws.train_all(grid, workers=1)
    sc = SCENARIOS["SE1"]
    write_csv(tables / "training_history.csv",
              pd.read_csv(ws.run(sc.train, sc.lang, 0.5) / "history.csv").assign(scenario="SE1"))
    table, results = scenario_table(ws)
    write_csv(tables / "scenarios.csv", table)
    for name, res in results.items():
        write_csv(tables / f"per_query_{name}_full.csv", res.per_query)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--work", required=True, help="workspace (datasets, pretrained folders, runs)")
    p.add_argument("--out", required=True, help="results folder; tables/ is written under it")
    p.add_argument("--mode", choices=("unit", "pipeline"), default="unit")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    (_unit if args.mode == "unit" else _pipeline)(Path(args.work), Path(args.out))
    print(f"threads={torch.get_num_threads()} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

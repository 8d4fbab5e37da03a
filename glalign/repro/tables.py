"""Scenario tables: a row per evaluated scenario with its identity-bootstrap CI and chance beside it
(galleries differ between scenarios, so a Rank-1 is read against its own chance)."""
from __future__ import annotations

import pandas as pd

from glalign.repro.scenarios import SCENARIOS


def result_row(scenario: str, variant: str, result) -> dict:
    """One row of a retrieval table: the metrics with their identity-bootstrap CI, and chance
    (chance_R1, gallery_images, gallery_ids) beside them, since galleries differ between scenarios."""
    from glalign.retrieval.metrics import chance_r1
    from glalign.retrieval.stats import bootstrap_ci

    sc = SCENARIOS[scenario]
    lo, hi = bootstrap_ci(result.per_query.correct_at_1.to_numpy(), clusters=result.per_query.pid.to_numpy())
    m = result.metrics
    return {"scenario": scenario, "variant": variant, "train": "+".join(f"{d}-{sc.lang.upper()}" for d in sc.train),
            "test": f"{sc.test}-{sc.lang.upper()}" + (" (subset)" if sc.test_subset else "")
                    + (" (all ids)" if sc.test_split == "all" else ""),
            "lang": sc.lang, "R1": m["R1"], "R5": m["R5"], "R10": m["R10"], "mAP": m["mAP"], "mINP": m["mINP"],
            "n_queries": result.n_queries, "R1_ci_low": lo, "R1_ci_high": hi,
            "chance_R1": chance_r1(result.query_pids, result.gallery_pids),
            "gallery_images": len(result.gallery_pids), "gallery_ids": len(set(result.gallery_pids.tolist()))}


def scenario_table(ws, scenarios=tuple(SCENARIOS), variant: str = "full") -> tuple[pd.DataFrame, dict]:
    """The scenario grid of a Workspace, plus the EvalResults by scenario (for per-query comparisons)."""
    results = {s: ws.evaluate(s, variant) for s in scenarios}
    table = pd.DataFrame([result_row(s, variant, r) for s, r in results.items()])
    return table, results

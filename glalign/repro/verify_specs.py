"""What `glalign reproduce --verify` compares, table by table: the key columns, the numbers, and the
tolerance each one is held to (a paired McNemar test for Rank-1 where per-query hits exist, a
design-effect-widened interval elsewhere, fixed tolerances for IoU and mined-pair quality)."""
from __future__ import annotations

from dataclasses import dataclass, field


MCNEMAR_ALPHA = 0.01
"""Paired Rank-k: a McNemar p-value below this says the rerun's per-query hits differ beyond noise.
1%, not 5%: a full verify makes about 20 such tests, and at 5% one would fail by chance every other run."""


CI_LEVEL = 0.95
"""Level of the bootstrap CI a rerun's percentage must fall in (the level of the committed R1 CIs)."""


IOU_TOL = 0.05
"""SynthParser per-part IoU (a fraction): a fresh-clone rerun moved it by 0.014-0.036 per part (issue 26);
the parser trains for 12 epochs on float32 and its smallest parts (SHOES) are a few pixels tall."""


RSM_TOL = 5.0
"""Precision / recall (percentage points) of the region-phrase pairs ROGLE mines with a trained model."""


DEFAULT_DESIGN_EFFECT = 1.8
"""Identity-bootstrap CI width over query-bootstrap CI width when no committed per-query file gives it
(measured on results/synthpedes: 1.14-1.79 over the seven scenarios, SV1 the widest)."""


MAX_LISTED = 200  # numbers listed per verdict block before the rest are only counted


@dataclass(frozen=True)
class TableSpec:
    """How one table's numbers are judged. Columns not named are compared exactly."""
    keys: tuple[str, ...]
    rates: tuple[str, ...] = ()          # percentages over queries: bootstrap CI (+ McNemar when paired)
    absolute: dict = field(default_factory=dict)  # column -> absolute tolerance
    info: tuple[str, ...] = ()           # reported, not judged
    n_column: str | None = "n_queries"
    scenario_column: str | None = "scenario"
    paired: bool = False                 # rows have a per_query_<scenario>_<variant>.csv partner


RANKS = ("R1", "R5", "R10", "mAP")
MCNEMAR_INFO = ("n", "both_correct", "only_a", "only_b", "both_wrong", "discordant", "method", "statistic", "pvalue")


SPECS: dict[str, TableSpec] = {
    "scenarios": TableSpec(("scenario", "variant"), rates=(*RANKS, "mINP"), info=("R1_ci_low", "R1_ci_high"),
                           paired=True),
    "ablation": TableSpec(("scenario", "variant"), rates=RANKS),
    "rq1_init": TableSpec(("scenario", "init", "variant"), rates=RANKS),
    "seeds": TableSpec(("scenario", "seed"), rates=RANKS),
    "alpha_sweep": TableSpec(("scenario", "fusion", "alpha"), rates=("R1", "R5", "mAP"), n_column=None),
    "alpha_trained": TableSpec(("scenario", "alpha"), rates=("R1", "R5", "mAP"), n_column=None),
    "failures": TableSpec(("condition", "model"), rates=("R1",), scenario_column=None),
    # one row per test, metric and part; chance depends on which regions the parser found: reported
    "protocols": TableSpec(("method", "scenario", "queries", "protocol", "test", "metric", "part"), rates=("value",),
                           info=("chance", "text_only"), n_column="n"),
    "mcnemar": TableSpec(("comparison",), rates=("R1_a", "R1_b"), info=MCNEMAR_INFO, n_column="n",
                         scenario_column=None),
    "rogle_mcnemar": TableSpec(("comparison",), rates=("R1_a", "R1_b"),
                               info=(*MCNEMAR_INFO, "R1_a_ci_low", "R1_a_ci_high", "R1_b_ci_low", "R1_b_ci_high"),
                               n_column="n", scenario_column=None),
    "parser_iou": TableSpec(("domain", "part"), absolute={"iou": IOU_TOL}),
    "rsm_quality": TableSpec(("method", "lang", "captions"), absolute={"precision": RSM_TOL, "recall": RSM_TOL}),
    # the RSM arm's training pairs (long captions of A's train split): counts of the data are exact
    "rsm_training_pairs": TableSpec(("lang",), absolute={"precision": RSM_TOL, "recall": RSM_TOL},
                                    info=("pairs", "with_local_supervision", "regions_per_pair", "mean_weight",
                                          "median_weight"), n_column=None, scenario_column=None),
    "rsm_margins": TableSpec(("lang", "captions", "min_margin"), absolute={"precision": RSM_TOL, "recall": RSM_TOL},
                             info=("mined",), scenario_column=None),
    # the training schedule is exact; what validation chose, and timings, are reported
    "runs": TableSpec(("run",), info=("seconds", "pairs_per_s", "best_epoch", "converged", "last_quarter_rise",
                                      "val_R1", "val_R1_global", "val_R1_local"), scenario_column=None),
    "method_losses": TableSpec(("term",), info=("by hand", "glalign"), scenario_column=None),
    "np_coverage": TableSpec(("domain", "lang", "mode", "part")),  # deterministic: exact
    "datasets": TableSpec(("dataset",)),                            # deterministic: exact
    "pretraining_history": TableSpec(("model", "epoch"), info=("*",)),
    "training_history": TableSpec(("scenario", "epoch"), info=("*",)),
    "training_steps": TableSpec(("run", "step"), info=("*",)),       # notebook 03's per-step curves: reported
    "failure_terms": TableSpec(("outcome", "term"), info=("queries",), scenario_column=None),  # notebook 07's tally
    "runtime": TableSpec(("notebook",), info=("*",)),
}


PER_QUERY_PREFIX = "per_query_"
PER_QUERY_KEY = ("query", "pid", "image", "caption_index")  # the same queries in both runs

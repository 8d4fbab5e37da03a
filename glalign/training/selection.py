"""Choosing a run's epoch on validation, and telling whether its training levelled off.

Every run scores its data's 'val' identities after each epoch (glalign.train); the weights it
publishes are those of the best epoch by validation Rank-1, and the test split is read once, after
training, by evaluation. `converged` is the issue-28 rule: the best validation Rank-1 of the last
quarter of the epochs beats the best before it by less than CONVERGED_RISE points."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

CONVERGED_RISE = 1.0  # points of validation Rank-1


def best_epoch(history: list[dict]) -> int | None:
    """1-based epoch of the highest validation Rank-1 (the earliest of equals), None without one."""
    scored = [(h["val_R1"], -h["epoch"]) for h in history
              if h.get("val_R1") is not None and h["val_R1"] == h["val_R1"]]
    return -max(scored)[1] if scored else None


def run_summary(run) -> dict:
    """Steps, pair passes, the epoch chosen on validation with its scores, and `converged` (False
    with fewer than 2 epochs or no validation)."""
    hist = pd.read_csv(Path(run) / "history.csv")
    rows = hist.to_dict("records")
    out = {"epochs": len(rows), "steps": int(rows[-1].get("steps", 0) or 0),
           "pair_passes": int(rows[-1].get("pair_passes", 0) or 0), "seconds": float(hist.seconds.sum()),
           "best_epoch": best_epoch(rows), "converged": False, "last_quarter_rise": float("nan")}
    if out["best_epoch"] is not None:
        best = rows[out["best_epoch"] - 1]
        out.update({k: best[k] for k in ("val_R1", "val_R1_global", "val_R1_local") if k in best})
        if len(rows) >= 2:
            q = max(1, math.ceil(len(rows) / 4))
            val = hist["val_R1"].to_numpy()
            out["last_quarter_rise"] = float(val[-q:].max() - val[:-q].max())
            out["converged"] = bool(out["last_quarter_rise"] < CONVERGED_RISE)
    return out


def run_table(paths) -> pd.DataFrame:
    """One row per run folder: its summary (run_summary) and its training throughput."""
    rows = []
    for p in paths:
        hist = pd.read_csv(Path(p) / "history.csv")
        rows.append({"run": Path(p).name, **run_summary(p), "pairs_per_s": float(hist.pairs_per_s.mean())})
    return pd.DataFrame(rows)


def validation_curves(paths) -> pd.DataFrame:
    """Long table (run, epoch, steps, branch, val_R1) of every run's validation curve."""
    frames = []
    for p in paths:
        hist = pd.read_csv(Path(p) / "history.csv")
        if "val_R1" not in hist:
            continue
        cols = {"val_R1": "fused", "val_R1_global": "global", "val_R1_local": "local"}
        long = hist.rename(columns=cols).melt(id_vars=["epoch", "steps"], value_vars=[v for c, v in cols.items()
                                                                                       if c in hist],
                                              var_name="branch", value_name="val_R1")
        frames.append(long.assign(run=Path(p).name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["epoch", "steps", "branch", "val_R1", "run"])

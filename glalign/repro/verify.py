"""`glalign reproduce --verify`: did a rerun reproduce the committed results?

Every number of a rerun's tables (RESULTS_DIR/tables/*.csv) is compared with the committed one
(results/<profile>/tables at git HEAD, or --reference DIR) and given a difference, a tolerance and a
verdict. What the tolerance is depends on what the number is:

* a retrieval percentage (Rank-k, mAP, mINP, grounding) is a mean over test queries, so a rerun whose
  model drifted by floating-point order moves it by sampling noise. With the per-query outcomes of
  both runs (tables/per_query_<scenario>_<variant>.csv, written by notebook 04 for the scenario grid)
  Rank-1/5/10 are judged *paired*: the rerun's value must lie in the committed value's 95%
  identity-bootstrap CI (glalign.stats.bootstrap_ci, clusters = person ids) and McNemar's test on the
  two runs' per-query hits must not reject equality at MCNEMAR_ALPHA. A number with no per-query
  partner (the ablation, seeds, alpha, ROGLE tables...) is judged by the bootstrap CI alone, computed
  from its query count: the query bootstrap of k hits in n, widened by the design effect (identity vs
  query CI width) measured on the same scenario's committed per-query hits. mAP and mINP use the same
  interval: a per-query score in [0, 1] with mean m varies at most as a hit/miss outcome with rate m.
* SynthParser's IoU: IOU_TOL; the mined pairs' precision / recall: RSM_TOL (percentage points).
* Stages deterministic by design (data generation, noun-phrase parsing, coverage, dataset
  statistics): exact (tests/test_verify.py checks it by digest).
* Training curves and timings are reported, not judged: their drift is judged where it lands.

Exit 0 when every judged number is within its tolerance, 1 with the table of those that are not, 2
(GlalignError) for a missing or malformed folder."""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glalign.errors import GlalignError
from glalign.repro.tolerance import design_effect, per_query_hits, unpaired_interval
from glalign.repro.verify_specs import (CI_LEVEL, DEFAULT_DESIGN_EFFECT, MAX_LISTED, MCNEMAR_ALPHA, PER_QUERY_KEY,
                                        PER_QUERY_PREFIX, SPECS, TableSpec)
from glalign.repro.verify_tables import committed_tables, read_table, tables_dir

# the names this module held before the split, for `glalign.verify.X` (one release)
from glalign.repro.tolerance import query_ci  # noqa: E402,F401
from glalign.repro.verify_specs import (  # noqa: E402,F401
    CI_LEVEL, DEFAULT_DESIGN_EFFECT, IOU_TOL, MAX_LISTED, MCNEMAR_ALPHA, MCNEMAR_INFO, PER_QUERY_KEY, PER_QUERY_PREFIX,
    RANKS, RSM_TOL, SPECS, TableSpec,
)


VERDICT_OK, VERDICT_DRIFT, VERDICT_INFO = "ok", "BEYOND", "info"


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _finite(v) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def _number(v):
    return float(v) if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else v


class _Context:
    """Per-query files of both runs and the design effect of each scenario."""

    def __init__(self, ref: Path, new: Path):
        self.ref, self.new = ref, new
        self._pq: dict = {}
        deffs = {}
        for path in sorted(ref.glob(f"{PER_QUERY_PREFIX}*.csv")):
            scenario = path.stem[len(PER_QUERY_PREFIX):].split("_")[0]
            deffs.setdefault(scenario, design_effect(self.per_query(ref, path.stem)))
        self.deffs = deffs
        self.default_deff = max(deffs.values(), default=DEFAULT_DESIGN_EFFECT)

    def per_query(self, folder: Path, stem: str) -> pd.DataFrame | None:
        key = (folder, stem)
        if key not in self._pq:
            path = folder / f"{stem}.csv"
            self._pq[key] = read_table(path, None) if path.exists() else None
            frame = self._pq[key]
            if frame is not None and not {"correct_at_1", "pid"} <= set(frame.columns):
                raise GlalignError(f"{path}: no correct_at_1 / pid columns; rerun notebook 04")
        return self._pq[key]

    def n_of(self, scenario) -> int | None:
        for path in sorted(self.ref.glob(f"{PER_QUERY_PREFIX}{scenario}_*.csv")):
            return len(self.per_query(self.ref, path.stem))
        return None


def _check(table, row, column, committed, rerun, tolerance, verdict, **extra) -> dict:
    diff = rerun - committed if isinstance(committed, float) and isinstance(rerun, float) else None
    return {"table": table, "row": row, "column": column, "committed": committed, "rerun": rerun,
            "difference": diff, "tolerance": tolerance, "verdict": verdict, **extra}


def _paired_checks(name, label, spec, ref_row, new_row, ctx, scenario, variant) -> tuple[list, set]:
    """Rank-k of a row with per-query partners in both runs: CI of the committed hits + McNemar."""
    from glalign.retrieval.stats import bootstrap_ci, mcnemar_test

    stem = f"{PER_QUERY_PREFIX}{scenario}_{variant}"
    a, b = ctx.per_query(ctx.ref, stem), ctx.per_query(ctx.new, stem)
    if a is None or b is None:
        return [], set()
    key = [c for c in PER_QUERY_KEY if c in a.columns and c in b.columns]
    if len(a) != len(b) or not a[key].reset_index(drop=True).equals(b[key].reset_index(drop=True)):
        return [_check(name, label, "per-query queries", f"{len(a)} queries", f"{len(b)} queries",
                       f"the same queries ({', '.join(key)}) in {stem}.csv", VERDICT_DRIFT)], set()
    out, done = [], set()
    for column in spec.rates:
        ha, hb = per_query_hits(a, column), per_query_hits(b, column)
        if ha is None or column not in new_row:
            continue
        lo, hi = bootstrap_ci(ha, clusters=a.pid.to_numpy(), level=CI_LEVEL)
        test = mcnemar_test(ha, hb)
        c, r = float(ref_row[column]), float(new_row[column])
        within = (lo - 1e-9 <= r <= hi + 1e-9 and test["pvalue"] >= MCNEMAR_ALPHA) or c == r
        out.append(_check(name, label, column, c, r,
                          f"identity-bootstrap {CI_LEVEL:.0%} CI [{lo:.2f}, {hi:.2f}]; McNemar p={test['pvalue']:.3g} "
                          f"({test['only_a']}/{test['only_b']} discordant) >= {MCNEMAR_ALPHA}",
                          VERDICT_OK if within else VERDICT_DRIFT))
        done.add(column)
    return out, done


def compare_table(name: str, ref: pd.DataFrame, new: pd.DataFrame, ctx: _Context) -> list[dict]:
    spec = SPECS.get(name) or TableSpec(())
    if spec.keys:
        dup = ref.duplicated(list(spec.keys)).any() or new.duplicated(list(spec.keys)).any()
        if dup:
            raise GlalignError(f"tables/{name}.csv: rows repeat the key ({', '.join(spec.keys)}); rerun its notebook")
        index = lambda f: {tuple(r): i for i, r in enumerate(f[list(spec.keys)].itertuples(index=False))}  # noqa: E731
        ri, ni = index(ref), index(new)
    else:  # a table without a spec: rows by position, every number exact
        ri, ni = {(i,): i for i in range(len(ref))}, {(i,): i for i in range(len(new))}
    checks = []
    for k in [k for k in ri if k not in ni] + [k for k in ni if k not in ri]:
        where = "rerun" if k in ri else "committed results"
        checks.append(_check(name, " ".join(map(str, k)), "(row)", "present" if k in ri else "absent",
                             "present" if k in ni else "absent", f"the row in the {where} too", VERDICT_DRIFT))
    all_info = "*" in spec.info
    for k, i in ri.items():
        if k not in ni:
            continue
        a, b = ref.iloc[i].to_dict(), new.iloc[ni[k]].to_dict()
        label = " ".join(map(str, k))
        scenario = a.get(spec.scenario_column) if spec.scenario_column else None
        done: set = set(spec.keys)
        if spec.paired and scenario is not None:
            paired, done_paired = _paired_checks(name, label, spec, a, b, ctx, scenario, a.get("variant", "full"))
            checks += paired
            done |= done_paired
        n = a.get(spec.n_column) if spec.n_column else None
        n = int(n) if n is not None and not (isinstance(n, float) and math.isnan(n)) else ctx.n_of(scenario)
        deff = ctx.deffs.get(scenario, ctx.default_deff)
        for column in ref.columns:
            if column in done:
                continue
            c, r = _number(a[column]), _number(b.get(column, float("nan")))
            if column not in new.columns:
                checks.append(_check(name, label, column, c, "absent", "the column in the rerun", VERDICT_DRIFT))
            elif all_info or column in spec.info:
                checks.append(_check(name, label, column, c, r, "reported, not judged", VERDICT_INFO))
            elif column in spec.rates and n and _finite(c) and _finite(r):
                lo, hi = unpaired_interval(c, n, deff)
                ok = _equal(c, r) or lo - 1e-9 <= r <= hi + 1e-9
                checks.append(_check(name, label, column, c, r,
                                     f"bootstrap {CI_LEVEL:.0%} CI [{lo:.2f}, {hi:.2f}] from n={n} queries, "
                                     f"design effect {deff:.2f} (no per-query outcomes)", VERDICT_OK if ok else VERDICT_DRIFT))
            elif column in spec.absolute and _finite(c) and _finite(r):
                tol = spec.absolute[column]
                ok = _equal(c, r) or abs(r - c) <= tol + 1e-12
                checks.append(_check(name, label, column, c, r, f"|difference| <= {tol:g}",
                                     VERDICT_OK if ok else VERDICT_DRIFT))
            else:
                checks.append(_check(name, label, column, c, r, "exact (deterministic by design)",
                                     VERDICT_OK if _equal(c, r) else VERDICT_DRIFT))
    return checks


@dataclass
class Report:
    checks: pd.DataFrame
    not_rerun: list[str]
    new: list[str]

    @property
    def ok(self) -> bool:
        return not (self.checks.verdict == VERDICT_DRIFT).any()


def verify(rerun, reference=None, profile: str = "synthpedes") -> Report:
    """Compare the tables of `rerun` (a results folder) with `reference` (default: the committed
    results/<profile> at git HEAD)."""
    new = tables_dir(rerun)
    with tempfile.TemporaryDirectory(prefix="glalign-verify-") as tmp:
        ref = tables_dir(reference) if reference else tables_dir(committed_tables(profile, Path(tmp)))
        names = lambda d: {p.stem for p in d.glob("*.csv") if not p.stem.startswith(PER_QUERY_PREFIX)}  # noqa: E731
        common = sorted(names(ref) & names(new))
        if not common:
            raise GlalignError(f"{new} and {ref} have no table in common; is {rerun} a results folder of profile "
                               f"{profile!r}?")
        ctx = _Context(ref, new)
        checks = []
        for name in common:
            checks += compare_table(name, read_table(ref / f"{name}.csv", SPECS.get(name)),
                                    read_table(new / f"{name}.csv", SPECS.get(name)), ctx)
        columns = ["table", "row", "column", "committed", "rerun", "difference", "tolerance", "verdict"]
        return Report(pd.DataFrame(checks, columns=columns), sorted(names(ref) - names(new)), sorted(names(new) - names(ref)))


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}" if abs(v) >= 1e4 or (v and abs(v) < 1e-3) else f"{v:.4f}"
    return str(v)


def format_report(report: Report) -> str:
    """Per table: how many numbers were identical, within tolerance, beyond it, reported only; every
    number judged by a tolerance (its difference, tolerance, verdict); then those beyond tolerance."""
    c = report.checks
    lines = []
    cols = ["table", "row", "column", "committed", "rerun", "difference", "tolerance", "verdict"]
    show = lambda f: f[cols].to_string(index=False, formatters={k: _fmt for k in ("committed", "rerun", "difference")})  # noqa: E731
    for name, part in c.groupby("table", sort=False):
        judged = part[part.verdict != VERDICT_INFO]
        same = judged.apply(lambda r: _equal(r.committed, r.rerun), axis=1).sum() if len(judged) else 0
        lines.append(f"{name}: {len(judged)} numbers judged, {same} identical, "
                     f"{(judged.verdict == VERDICT_OK).sum() - same} within tolerance, "
                     f"{(judged.verdict == VERDICT_DRIFT).sum()} beyond; {len(part) - len(judged)} reported only")
    tolerance_based = c[~c.tolerance.str.startswith(("exact", "reported"))]
    if len(tolerance_based):
        lines += ["", "Numbers judged against a tolerance:", show(tolerance_based.head(MAX_LISTED))]
        if len(tolerance_based) > MAX_LISTED:
            lines.append(f"... and {len(tolerance_based) - MAX_LISTED} more")
    if report.not_rerun:
        lines += ["", "not in the rerun (not compared): " + ", ".join(report.not_rerun)]
    if report.new:
        lines += ["", "only in the rerun (nothing to compare with): " + ", ".join(report.new)]
    beyond = c[c.verdict == VERDICT_DRIFT]
    lines.append("")
    if len(beyond):
        lines += [f"{len(beyond)} number(s) BEYOND tolerance:", show(beyond)]
    else:
        lines.append(f"reproduced: all {(c.verdict != VERDICT_INFO).sum()} judged numbers within tolerance")
    return "\n".join(lines)


def verify_cli(rerun, reference=None, profile: str = "synthpedes") -> int:
    """`glalign reproduce --verify`: print the report; 0 when within noise, 1 when not."""
    report = verify(rerun, reference, profile)
    print(format_report(report))
    return 0 if report.ok else 1

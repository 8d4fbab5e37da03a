"""The numbers the paper reports (results/paper/*.csv) and the checks that find where the paper
contradicts itself. Each finding names the table or section, so a reader can look it up."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

PAPER_DIR = Path(__file__).resolve().parents[2] / "results" / "paper"

# Split sizes stated in Section 4.1.1 and Table 3.
CUHK_IDS, CUHK_TRAIN_IDS, CUHK_TEST_IDS = 13003, 11003, 1000
VN3K_IMAGES, VN3K_DESCRIPTIONS = 6302, 12602
PAPER_TEMPERATURE = 0.07


def _read(name: str) -> pd.DataFrame:
    path = PAPER_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the paper's numbers ship with the repository")
    return pd.read_csv(path)


def reported() -> pd.DataFrame:
    """Tables 4-10, one row per method and scenario; ranks in percent."""
    return _read("reported.csv")


def table1() -> pd.DataFrame:
    return _read("table1.csv")


def np_coverage() -> pd.DataFrame:
    """Table 2: NP-to-part coverage on 3000VnPerson-Search."""
    return _read("table2_np_coverage.csv")


def ablation() -> pd.DataFrame:
    """Table 11: Rank-1 of global-only, local-only and full models."""
    return _read("table11_ablation.csv")


def text_claims() -> pd.DataFrame:
    """Numbers the running text states about the tables."""
    return _read("text_claims.csv")


def ours(scenario: str) -> dict:
    """The paper's GLAlign row for a scenario (SE1..SV3) as a dict of rank1/5/10."""
    rows = reported()
    row = rows[(rows.scenario == scenario) & (rows.method == "GLAlign (Ours)")]
    if row.empty:
        raise KeyError(f"the paper reports no GLAlign result for scenario {scenario!r}")
    return row.iloc[0][["rank1", "rank5", "rank10"]].astype(float).to_dict()


def find_inconsistencies() -> list[dict]:
    """Every place where the paper's numbers or statements disagree with each other, check by check."""
    rows = reported()
    found: list[dict] = []
    for check in (_rank_order, _reference_swaps, _text_encoder, _dataset_mismatches, _ablation_gains, _table2_sums,
                  _temperature, _split_arithmetic, _description_count):
        found += check(rows)
    return found


def _rank_order(rows) -> list[dict]:
    """CMC curves never decrease: Rank-1 <= Rank-5 <= Rank-10."""
    found: list[dict] = []
    for r in rows.itertuples():
        if not (r.rank1 <= r.rank5 <= r.rank10):
            found.append({"kind": "rank-order", "where": f"Table {r.table} ({r.scenario}), {r.method}",
                          "detail": f"Rank-1 {r.rank1} / Rank-5 {r.rank5} / Rank-10 {r.rank10} is not "
                                    "non-decreasing; a CMC value cannot fall as k grows"})
    return found


def _reference_swaps(rows) -> list[dict]:
    """Numbers the text quotes that the tables attribute to another method (swapped references)."""
    found: list[dict] = []
    for c in text_claims().itertuples():
        scen = c.claim.split()[0]
        if scen not in set(rows.scenario):
            continue
        table_rows = rows[(rows.scenario == scen)]
        same = table_rows[table_rows.method == c.method]
        if not same.empty and not math.isclose(float(same.rank1.iloc[0]), c.value, abs_tol=0.005):
            owner = table_rows[(table_rows.rank1 - c.value).abs() < 0.005]
            who = owner.method.iloc[0] if not owner.empty else "no method"
            found.append({"kind": "reference-swap", "where": c.where,
                          "detail": f"the text gives {c.method} {c.value:.2f}% in {scen}, but Table "
                                    f"{int(same.table.iloc[0])} gives it {float(same.rank1.iloc[0]):.2f}% "
                                    f"and attributes {c.value:.2f}% to {who}"})
    return found


def _text_encoder(rows) -> list[dict]:
    """Vietnamese results listed with GPT-2 while Section 3 and Table 1 say PhoBERT."""
    found: list[dict] = []
    t1 = table1()
    vi_text = set(t1[(t1.method == "GLAlign (Ours)") & (t1.language == "Vietnamese")].text_backbone)
    for r in rows[(rows.method == "GLAlign (Ours)") & rows.scenario.str.startswith("SV")].itertuples():
        if r.text_backbone not in vi_text:
            found.append({"kind": "text-encoder", "where": f"Table {r.table} ({r.scenario})",
                          "detail": f"Vietnamese result listed with text backbone {r.text_backbone}; "
                                    f"Section 3 and Table 1 attribute Vietnamese results to "
                                    f"{', '.join(sorted(vi_text))}"})
    return found


def _dataset_mismatches(rows) -> list[dict]:
    """Table 1 vs Tables 8-10: the same Rank-1 given for a different dataset."""
    found: list[dict] = []
    t1 = table1()
    for r in t1[t1.method.str.startswith("Method in")].itertuples():
        hits = rows[(rows.method == r.method) & ((rows.rank1 - r.rank1).abs() < 0.005)]
        for h in hits.itertuples():
            dataset_of = {"SV1": "CUHK-PEDES-VN", "SV2": "3000VnPerson-Search (100 IDs)",
                          "SV3": "3000VnPerson-Search", "SE1": "CUHK-PEDES"}.get(h.scenario, h.scenario)
            if not dataset_of.startswith(r.dataset):
                found.append({"kind": "dataset-mismatch", "where": f"Table 1 vs Table {h.table}",
                              "detail": f"{r.method} Rank-1 {r.rank1:.2f}% is on {r.dataset} in Table 1 "
                                        f"but on {dataset_of} ({h.scenario}) in Table {h.table}"})
    return found


def _ablation_gains(rows) -> list[dict]:
    """Ablation gains quoted in Section 4.3.3 against Table 11."""
    found: list[dict] = []
    ab = ablation()
    claims = text_claims()
    for scen, key in (("SE1", "CUHK-PEDES"), ("SV2", "3000VnPerson-Search")):
        full = float(ab[(ab.scenario == scen) & (ab.variant == "full")].rank1.iloc[0])
        glob = float(ab[(ab.scenario == scen) & (ab.variant == "global-only")].rank1.iloc[0])
        claim = claims[claims.claim.str.contains(f"on {key} ", regex=False)]
        if not claim.empty and not math.isclose(full - glob, float(claim.value.iloc[0]), abs_tol=0.005):
            found.append({"kind": "ablation-gain", "where": "Section 4.3.3 vs Table 11",
                          "detail": f"{key}: text says +{float(claim.value.iloc[0]):.2f}, table gives "
                                    f"{full - glob:+.2f}"})
        if math.isclose(full, ours(scen)["rank1"], abs_tol=0.005) and scen == "SV2":
            found.append({"kind": "scenario-label", "where": "Table 11 and Section 5.2",
                          "detail": f"the Vietnamese ablation column is labelled 3000VnPerson-Search and "
                                    f"Section 5.2 credits its {full:.2f}% to PhoBERT on native Vietnamese, "
                                    "but the number is SV2's: trained on translated CUHK-PEDES-VN, tested "
                                    "on 100 identities of 3000VnPerson-Search"})
    return found


def _table2_sums(rows) -> list[dict]:
    """Table 2's totals and percentages."""
    found: list[dict] = []
    cov = np_coverage()
    parts = cov[cov.part != "Overall"]
    overall = cov[cov.part == "Overall"].iloc[0]
    if parts.total_nps.sum() != overall.total_nps or parts.matched.sum() != overall.matched:
        found.append({"kind": "table-sum", "where": "Table 2",
                      "detail": "per-part counts do not add up to the Overall row"})
    for r in cov.itertuples():
        if abs(100 * r.matched / r.total_nps - r.coverage) > 0.051:
            found.append({"kind": "table-sum", "where": f"Table 2, {r.part}",
                          "detail": f"{r.matched}/{r.total_nps} = {100 * r.matched / r.total_nps:.1f}%, "
                                    f"not {r.coverage}%"})
    return found


def _temperature(rows) -> list[dict]:
    """The temperature: logits = cos * exp(t) with t = 0.07 scales by 1.07, not by 1/0.07."""
    found: list[dict] = []
    found.append({"kind": "temperature", "where": "Section 3.3, Eq. 7",
                  "detail": f"logits = cos * exp(t) with t = {PAPER_TEMPERATURE} multiplies by "
                            f"{math.exp(PAPER_TEMPERATURE):.4f}, nearly no scaling; CLIP's learnable "
                            f"logit scale starts at exp(log(1/0.07)) = {1 / PAPER_TEMPERATURE:.2f}. "
                            "This package follows CLIP"})
    return found


def _split_arithmetic(rows) -> list[dict]:
    """Split arithmetic: 11,003 train + 1,000 test of 13,003 identities leaves 1,000 unaccounted for."""
    found: list[dict] = []
    left = CUHK_IDS - CUHK_TRAIN_IDS - CUHK_TEST_IDS
    if left:
        found.append({"kind": "split", "where": "Section 4.1.1",
                      "detail": f"{CUHK_TRAIN_IDS} train + {CUHK_TEST_IDS} test identities of {CUHK_IDS} "
                                f"leaves {left} unnamed (CUHK-PEDES's standard validation split)"})
    return found


def _description_count(rows) -> list[dict]:
    """Two descriptions per image do not give Table 3's description count."""
    found: list[dict] = []
    if 2 * VN3K_IMAGES != VN3K_DESCRIPTIONS:
        found.append({"kind": "dataset-count", "where": "Table 3 and Section 4.1.1",
                      "detail": f"3000VnPerson-Search: {VN3K_IMAGES} images with two descriptions each "
                                f"would be {2 * VN3K_IMAGES}, the paper gives {VN3K_DESCRIPTIONS}"})
    return found


def verify_text(text: str) -> list[dict]:
    """Check results/paper/*.csv against the paper's text (a maintainer's copy, never shipped).

    Returns findings: `mismatch` (a number differs from the text), `missing-row` (a table is in the
    text but a row is not), `missing-table` (the text has no such table). Empty means all agree."""
    found: list[dict] = []
    rows = reported()
    for table, group in rows.groupby("table", sort=True):
        start = text.find(f"Table {table}: The comparative")
        if start < 0:
            found.append({"kind": "missing-table", "where": f"Table {table}",
                          "detail": "no 'Table N: The comparative ...' heading in the text"})
            continue
        block = text[start:start + 2500].split("\n\nTable ")[0]
        for r in group.itertuples():
            line = next((ln for ln in block.splitlines() if ln.startswith(r.method.split(" (")[0])), None)
            if line is None:
                found.append({"kind": "missing-row", "where": f"Table {table}", "detail": f"no line for {r.method}"})
                continue
            numbers = [float(x) for x in re.findall(r"\d+\.\d+", line)][-3:]
            if numbers != [r.rank1, r.rank5, r.rank10]:
                found.append({"kind": "mismatch", "where": f"Table {table}, {r.method}",
                              "detail": f"reported.csv has {r.rank1}/{r.rank5}/{r.rank10}, the text {line.strip()!r}"})
    for r in np_coverage().itertuples():
        if f"{r.part}\t{r.total_nps}\t{r.matched}\t{r.coverage}" not in text:
            found.append({"kind": "mismatch", "where": f"Table 2, {r.part}",
                          "detail": f"no line '{r.part}<TAB>{r.total_nps}<TAB>{r.matched}<TAB>{r.coverage}' in the text"})
    ab = ablation()
    for variant, label in (("global-only", "Global-only model"), ("local-only", "Local-only model"),
                           ("full", "Full model (GLAlign)")):
        se1 = ab[(ab.variant == variant) & (ab.scenario == "SE1")].rank1.iloc[0]
        sv2 = ab[(ab.variant == variant) & (ab.scenario == "SV2")].rank1.iloc[0]
        if f"{label}\t{se1:.2f}%\t{sv2:.2f}%" not in text:
            found.append({"kind": "mismatch", "where": f"Table 11, {label}",
                          "detail": f"no line '{label}<TAB>{se1:.2f}%<TAB>{sv2:.2f}%' in the text"})
    return found

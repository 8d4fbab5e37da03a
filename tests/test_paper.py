"""The paper's numbers, checked against a second reading and against the paper's own text."""
import re

import pytest

from glalign import paper
from conftest import REPO

SEED = REPO.parent / "shared" / "seeds" / "001_06b5aab29bc853a2.txt"

# Second reading, typed independently from the PDF text: GLAlign's rows of Tables 4-10.
SECOND_READING = {
    "SE1": (80.75, 97.85, 99.38), "SE2": (67.50, 92.96, 96.82), "SE3": (65.40, 94.80, 98.40),
    "SE4": (70.86, 95.10, 98.70), "SV1": (77.72, 94.31, 97.02), "SV2": (85.72, 97.31, 99.70),
    "SV3": (50.72, 67.31, 79.70),
}


@pytest.mark.parametrize("scenario", sorted(SECOND_READING))
def test_glalign_rows_match_second_reading(scenario):
    row = paper.ours(scenario)
    assert (row["rank1"], row["rank5"], row["rank10"]) == pytest.approx(SECOND_READING[scenario])


def test_every_reported_number_appears_in_its_table_in_the_paper():
    text = SEED.read_text(encoding="utf-8")
    for r in paper.reported().itertuples():
        start = text.index(f"Table {r.table}: The comparative")
        block = text[start:start + 2500]
        line = next((ln for ln in block.splitlines() if ln.startswith(r.method.split(" (")[0])), None)
        assert line is not None, f"Table {r.table}: no line for {r.method}"
        numbers = [float(x) for x in re.findall(r"\d+\.\d+", line)]
        assert numbers[-3:] == [r.rank1, r.rank5, r.rank10], f"Table {r.table} {r.method}: {line}"


def test_table2_and_table11_appear_in_the_paper():
    text = SEED.read_text(encoding="utf-8")
    for r in paper.np_coverage().itertuples():
        assert f"{r.part}\t{r.total_nps}\t{r.matched}\t{r.coverage}" in text
    ab = paper.ablation()
    for variant, label in (("global-only", "Global-only model"), ("local-only", "Local-only model"),
                           ("full", "Full model (GLAlign)")):
        se1 = ab[(ab.variant == variant) & (ab.scenario == "SE1")].rank1.iloc[0]
        sv2 = ab[(ab.variant == variant) & (ab.scenario == "SV2")].rank1.iloc[0]
        assert f"{label}\t{se1:.2f}%\t{sv2:.2f}%" in text


def test_inconsistencies_found():
    kinds = {}
    for item in paper.find_inconsistencies():
        kinds.setdefault(item["kind"], []).append(item)
    assert [i["where"] for i in kinds["rank-order"]] == ["Table 6 (SE3), ViTAA [4]"]
    assert len(kinds["reference-swap"]) == 2
    assert {i["where"] for i in kinds["text-encoder"]} == {"Table 8 (SV1)", "Table 9 (SV2)", "Table 10 (SV3)"}
    assert "1.0725" in kinds["temperature"][0]["detail"]
    assert "table-sum" not in kinds  # Table 2 adds up
    assert "ablation-gain" not in kinds  # +6.54 and +7.84 match Table 11


def test_ours_unknown_scenario():
    with pytest.raises(KeyError, match="SX9"):
        paper.ours("SX9")

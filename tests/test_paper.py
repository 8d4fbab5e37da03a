"""The paper's numbers, checked against a second reading and against the paper's own text."""
import pytest

from glalign import paper
from conftest import REPO

EXCERPT = REPO / "tests" / "fixtures" / "paper_excerpt.txt"

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


def test_verify_reports_the_wrong_number_and_the_missing_tables():
    """The fixture holds Tables 4, 2 and 11 with one number changed; the maintainer's check
    against the real paper (`glalign paper verify PAPER.txt`) runs the same function."""
    found = paper.verify_text(EXCERPT.read_text(encoding="utf-8"))
    assert [(f["kind"], f["where"]) for f in found if f["kind"] != "missing-table"] == [
        ("mismatch", "Table 4, IRRA [10]")]
    assert "73.38" in found[0]["detail"] and "73.83" in found[0]["detail"]
    assert {f["where"] for f in found if f["kind"] == "missing-table"} == {f"Table {t}" for t in range(5, 11)}


def test_verify_without_the_wrong_number_finds_only_missing_tables():
    text = EXCERPT.read_text(encoding="utf-8").replace("73.83%", "73.38%")
    assert {f["kind"] for f in paper.verify_text(text)} == {"missing-table"}
    broken = text.replace("Overall\t1433\t1194\t83.3", "Overall\t1433\t1194\t83.4")
    assert ("mismatch", "Table 2, Overall") in {(f["kind"], f["where"]) for f in paper.verify_text(broken)}


def test_paper_verify_cli(run_cli, tmp_path):
    bad = run_cli("paper", "verify", EXCERPT)
    assert bad.returncode == 1 and "[mismatch] Table 4, IRRA [10]" in bad.stdout
    missing = run_cli("paper", "verify", tmp_path / "nope.txt")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


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

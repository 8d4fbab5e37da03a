"""Every notebook explains as much as it computes: its markdown cells carry at least as many words as
its code cells have non-empty lines (issue 25: notebooks a reader learns the paper from)."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def words_and_lines(path: Path) -> tuple[int, int]:
    """(words in markdown cells, non-empty lines in code cells) of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]  # noqa: E731
    words = sum(len(source(c).split()) for c in cells if c["cell_type"] == "markdown")
    lines = sum(1 for c in cells if c["cell_type"] == "code" for line in source(c).splitlines() if line.strip())
    return words, lines


def test_every_notebook_is_found():
    assert len(NOTEBOOKS) >= 9 and NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_words_at_least_code_lines(path):
    words, lines = words_and_lines(path)
    assert lines > 0, f"{path.name} has no code"
    assert words >= lines, (f"{path.name}: {words} markdown words for {lines} code lines; explain what the code "
                            "computes and what its result shows (markdown cells) until words >= lines")

"""The README's Python API example runs as written, on the tiny run instead of the committed one."""
import re
import shutil
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- api-example -->\n```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its <!-- api-example --> block"
    return match.group(1)


def test_the_example_is_ten_lines_or_so():
    lines = [line for line in _example().splitlines() if line.strip()]
    assert 8 <= len(lines) <= 12, len(lines)


def test_the_readme_api_example_runs(tiny_run, synth_a, tmp_path, capsys):
    data = tmp_path / "A"
    shutil.copytree(synth_a, data)  # the example writes a search index beside the gallery
    code = _example()
    line = next(line for line in code.splitlines() if line.startswith("run, data = "))
    code = code.replace(line, f"run, data = {str(tiny_run)!r}, {str(data)!r}")
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("(1, 2) ") and 0 <= float(out[0].split()[-1]) <= 100
    assert scope["features"].shape[0] == 2 and "'rank': 1" in out[1]

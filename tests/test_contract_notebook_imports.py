"""Contract: every name the notebooks import from glalign still imports (read from their code
cells with ast, so a notebook added or edited is covered without touching this test)."""
import ast
import importlib
import importlib.util
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _code(cell) -> str:
    """A code cell's Python: IPython magics and shell lines (% and !) blanked, line numbers kept."""
    lines = "".join(cell["source"]).splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def notebook_imports() -> set[tuple[str, str | None]]:
    """(module, name) for `from glalign... import name`, (module, None) for `import glalign...`."""
    found = set()
    for nb in NOTEBOOKS:
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse(_code(cell), filename=nb.name)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "glalign":
                    found.update((node.module, a.name) for a in node.names)
                elif isinstance(node, ast.Import):
                    found.update((a.name, None) for a in node.names if a.name.split(".")[0] == "glalign")
    return found


def test_the_notebooks_import_something():
    names = notebook_imports()
    assert len(NOTEBOOKS) >= 9 and len(names) >= 40, (len(NOTEBOOKS), len(names))
    assert ("glalign.metrics", "rank_metrics") in names


@pytest.mark.parametrize("module, name", sorted(notebook_imports(), key=lambda t: (t[0], t[1] or "")))
def test_notebook_import_resolves(module, name):
    mod = importlib.import_module(module)
    if name is not None:
        assert hasattr(mod, name) or importlib.util.find_spec(f"{module}.{name}") is not None, \
            f"`from {module} import {name}` (a notebook) no longer resolves"

"""The repository reads nothing outside itself: a user's clone has no sibling folders."""
import re

from conftest import REPO

# "../shared" (the developers' folder beside the clone) and absolute paths of a machine.
FORBIDDEN = re.compile(r"\.\./shared|(?<![\w.])/(?:work|home|root|Users|tmp|mnt|opt)/[\w.-]+")


def _files():
    for top in ("glalign", "tests", "notebooks"):
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".ipynb", ".json", ".txt", ".md", ".cfg", ".toml"}:
                yield path


def test_no_file_refers_outside_the_repository():
    hits = []
    for path in _files():
        if path == REPO / "tests" / "test_self_contained.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:120]}")
    assert not hits, "files refer to paths outside the repository:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_should():
    assert FORBIDDEN.search('SEED = REPO.parent / "../shared/seeds/x.txt"')
    assert FORBIDDEN.search('root = "/work/main/results"')
    assert FORBIDDEN.search("open('/tmp/glalign-x/run')")
    assert not FORBIDDEN.search("results/paper/NOTES.md")
    assert not FORBIDDEN.search("a/b/tmp/c and 3/work/x")


def test_executed_notebooks_show_no_machine_folder():
    """results/<profile>/notebooks are what readers open: no temp clone folder in them."""
    hits = []
    for nb in sorted((REPO / "results").glob("*/notebooks/*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        for m in FORBIDDEN.finditer(text):
            hits.append(f"{nb.relative_to(REPO)}: {text[max(0, m.start() - 40):m.end() + 40]!r}")
    assert not hits, "\n".join(hits[:10])

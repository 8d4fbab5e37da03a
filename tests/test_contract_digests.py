"""Contract: the same seed gives the same bytes, before and after the package's restructure.

Digests of a SynthPEDES domain (conftest's synth_a: domain A, 24 identities, seed 3) and of
the tiny run trained on it (4 epochs, CPU) are stored in tests/golden/digests.json. They were taken
before any module moved; a refactor that changes a pixel, a caption or a weight fails here. A change
meant to alter them (a new generator feature, another recipe) regenerates the file with
`GLALIGN_REGEN_GOLDEN=1 pytest tests/test_contract_digests.py` and says so in its commit."""
import hashlib
import json
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "digests.json"


def tree_digest(root: Path, names=None) -> dict:
    """sha256 of every file below root (or of `names`), and one digest of the (path, sha256) list."""
    files = sorted(p for p in root.rglob("*") if p.is_file()) if names is None else [root / n for n in names]
    per = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    whole = hashlib.sha256("".join(f"{k} {v}\n" for k, v in per.items()).encode()).hexdigest()
    return {"files": len(per), "sha256": whole, "per_file": per}


def _check(key: str, found: dict):
    stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("GLALIGN_REGEN_GOLDEN"):
        stored[key] = found
        GOLDEN.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    assert key in stored, f"no stored digest {key!r}; regenerate with GLALIGN_REGEN_GOLDEN=1"
    want = stored[key]
    changed = sorted(k for k in set(want["per_file"]) | set(found["per_file"])
                     if want["per_file"].get(k) != found["per_file"].get(k))
    assert found["sha256"] == want["sha256"], f"{key}: {len(changed)} file(s) differ, e.g. {changed[:5]}"


def test_synthpedes_domain_bytes_are_the_recorded_ones(tmp_path):
    """Generated here with conftest's arguments (the shared copy gains caches as other tests read it)."""
    from glalign.data.synth import generate_domain

    generate_domain(tmp_path / "A", "A", n_ids=24, seed=3, progress=False, val_ids=0)
    found = tree_digest(tmp_path / "A")
    assert found["files"] > 100  # images, masks, captions, conditions, regions
    _check("synthpedes_A_24ids_seed3", found)


def test_long_form_captions_are_the_recorded_ones(tmp_path):
    """ROGLE's regions.json (boxes, long captions, their sentences' parts and words) of that domain."""
    from glalign.data.synth import generate_domain
    from glalign.data.synth_longform import add_longform

    generate_domain(tmp_path / "A", "A", n_ids=24, seed=3, progress=False, val_ids=0)
    add_longform(tmp_path / "A")
    _check("synthpedes_A_24ids_seed3_regions", tree_digest(tmp_path / "A", ["regions.json"]))


def test_tiny_stand_ins_are_the_recorded_ones(tiny_workspace_seed):
    """The tiny profile's SynthCLIP, SynthPhoBERT and SynthParser, pretrained once per test run."""
    pretrained = tiny_workspace_seed / "pretrained"
    names = [f"{m}/model.safetensors" for m in ("synthclip", "synthphobert", "synthparser")]
    _check("tiny_stand_ins", tree_digest(pretrained, names))


def test_tiny_run_weights_are_the_recorded_ones(tiny_run):
    _check("tiny_run_4_epochs", tree_digest(tiny_run, ["model.safetensors"]))

"""The pretraining corpus: SynthPEDES domain "P", a broad synthetic set disjoint from domains A and B.

It is written by the same generator and read by the same readers as A and B
(`glalign.data.records.load_dataset(root, lang="en"|"vi")`, masks in parsing/), but:
  - no families: every identity is sampled on its own, so there are no planted look-alikes;
  - half the identities are rendered under B's hard conditions (low light, occluders, blur), so
    models pretrained on it meet both domains' image statistics without seeing either domain;
  - all identities are in 'train' except a 5% 'test' share for measuring pretraining quality.
Disjoint by construction: every random draw comes from numpy streams keyed [seed, ord("P"), ...],
and A and B key theirs [seed, ord("A"|"B"), ...], so no seed makes the corpus repeat a benchmark
identity's draws."""
from __future__ import annotations

from pathlib import Path

from glalign.data.synth import generate_domain

CORPUS_DOMAIN = "P"


def make_corpus(out, n_ids: int = 2000, seed: int = 7919, progress: bool = True) -> Path:
    """Write (or find, when the same arguments made it before) the corpus at `out`; deterministic."""
    out = Path(out)
    generate_domain(out, CORPUS_DOMAIN, n_ids=n_ids, seed=seed, progress=progress)
    return out

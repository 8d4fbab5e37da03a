"""Local assessment of TBPS on region-annotated data (ROGLE's P-VLG assesses regions; its exact
protocol is not published, so it is defined here and in results/paper/NOTES.md).

Queries are the sentences whose ground truth names a region (regions.json), or with short queries
the short captions' noun phrases whose annotated part is a region of the image. A region is an item
whose id is (image, part); it is *present* when it has a box and, with pooled regions, its mask
covers a pixel. Absent regions (a part the parser found nowhere) are counted per part and never
ranked; a query whose own region is absent cannot be scored and is counted, not scored.

Every test is reported per part (the query's region) and over all parts, each beside its **chance**
(the expected value under a random order, exact, not sampled) and a **text-only** baseline (what the
text alone achieves: the keyword lexicon's part of the sentence, or the frequency of its words):

- retrieval (identity) / retrieval (attribute): part-conditioned region retrieval. A query ranks
  the present regions *of its own part* over all gallery images; relevant are those of the same
  person (identity) or with the same annotated look (attribute: the regions' `attributes` in
  regions.json are equal). R1/R5/R10 and mAP from glalign.metrics.rank_metrics. The text-only
  baseline equals chance: the gallery is one part, and a text-only scorer gives all its regions
  one score.
- grounding: the image is given; the query picks the most similar of that image's present
  regions; accuracy is the share that pick their own region. Chance: 1 / the image's regions.
  Text-only: the region of the part the keyword lexicon finds in the sentence (a random region
  when it finds none the image has); on SynthPEDES this is near 100%, so grounding shows that
  a model routes by part, not that it sees.
- foil (colour) / foil (type): the one visual test. The query's region is compared with the true
  sentence and with the same sentence whose first colour (or garment type) word is swapped for
  another of the data's words of that kind (types: of the same part), one that names none of the
  sentence's own values, drawn as often as the data use it; correct when the true sentence is closer (a tie counts half). Chance
  50%. Text-only: the sentence whose swapped word is the more frequent one among the evaluated
  sentences' attribute words (a language prior; a tie counts half). Needs the sentences'
  `words` (long queries); other queries are left out of the foil rows.

Embeddings are compared by cosine similarity; ties go to the lower gallery index, as in
glalign.metrics."""
from __future__ import annotations

from collections import Counter

import numpy as np

from glalign.constants import PARTS
from glalign.rogle.embedder import Embedder
from glalign.rogle.measures import local_tests
from glalign.rogle.units import keyword_parts


def attribute_key(look: dict | None):
    return tuple(sorted(look.items())) if look else None


def evaluate_local(root, model, lang: str = "en", split: str = "test", region_mode: str = "crop",
                   device: str = "cpu", masks: str = "parsing", queries: str = "long", ids=None,
                   seed: int = 0) -> dict:
    """The local protocol (module docstring) on ROOT/regions.json's `split` ('all': every image;
    `ids`: only these persons) with a vision-language model (a CLIP folder, a GLAlign run or a
    glalign.rsm.Embedder). Queries: the long-caption sentences that name a region ("long"), or
    the short captions' noun phrases whose ground-truth part (SynthPEDES annotations.json) is
    among the image's regions ("short"); the gallery is every present region of the images.

    Returns one dict: "rows" (test, metric, part, value, chance, text_only, n; value None where a
    part has no query), the headline numbers R1/R5/R10/mAP (part-conditioned retrieval, identity
    relevance, all parts) and grounding, "queries" (scored), "regions" (present gallery regions),
    and per part "absent" (regions with a box but an empty mask) and "unscored" (queries whose
    region is absent)."""
    from pathlib import Path

    from glalign.data.regions import load_regions
    from glalign.errors import GlalignError
    from glalign.rogle.embedder import Embedder, region_embeddings
    from glalign.data.formats import dataset_cache_dir
    from glalign.rogle.units import keyword_parts

    if queries not in ("long", "short"):
        raise GlalignError(f"unknown queries {queries!r}; choose short or long")
    root = Path(root)
    wanted = None if ids is None else set(ids)
    records = [r for r in load_regions(root) if split in ("all", r.split) and (wanted is None or r.pid in wanted)]
    if not records:
        raise GlalignError(f"{root}/regions.json has no {split} images" + (" of the given ids" if ids else ""))
    embedder = model if isinstance(model, Embedder) else Embedder(model, device=device)
    emb, present = region_embeddings(embedder, root, records, region_mode, masks)
    boxed = np.array([r.present for r in records], bool)
    absent = {p: int((boxed[:, j] & ~present[:, j]).sum()) for j, p in enumerate(PARTS)}
    keep = np.nonzero(present)
    region_emb = emb[keep]
    regions = _gallery_regions(records, keep)
    found = _queries(root, records, lang, queries)
    if not found:
        raise GlalignError(f"{root}/regions.json: no {lang} {queries}-caption queries with a region in the "
                           f"{split} split")
    scored = [x for x in found if present[x[0], PARTS.index(x[2])]]
    unscored = Counter(x[2] for x in found if not present[x[0], PARTS.index(x[2])])
    out = {"absent": absent, "unscored": {p: unscored.get(p, 0) for p in PARTS}, "regions": len(region_emb),
           "queries": len(scored)}
    if not scored:
        raise GlalignError(f"{root}: every {lang} {queries}-caption query describes a region that is absent "
                           f"(empty mask in {masks}/); absent regions by part: {absent}")
    q = {"image": [records[b].file_path for b, *_ in scored], "part": [p for _, _, p, _ in scored],
         "pid": [records[b].pid for b, *_ in scored], "text": [t for _, t, _, _ in scored],
         "attributes": [attribute_key(records[b].attributes.get(p)) for b, _, p, _ in scored],
         "words": [w for *_, w in scored]}
    sent = embedder.texts(q["text"], lang)
    rows = local_tests(sent, q, region_emb, regions, encode=lambda texts: embedder.texts(texts, lang),
                       keyword=lambda texts: keyword_parts(texts, lang, dataset_cache_dir(root)), seed=seed)
    head = {r["metric"]: r["value"] for r in rows if r["test"] == "retrieval (identity)" and r["part"] == "all"}
    out.update(head, grounding=next(r["value"] for r in rows if r["test"] == "grounding" and r["part"] == "all"),
               rows=rows)
    return out


def _gallery_regions(records, keep) -> dict[str, list]:
    """The present regions' image, part, person and annotated look, in gallery order."""
    regions = {"image": [], "part": [], "pid": [], "attributes": []}
    for b, j in zip(*keep):
        r, part = records[b], PARTS[j]
        regions["image"].append(r.file_path)
        regions["part"].append(part)
        regions["pid"].append(r.pid)
        regions["attributes"].append(attribute_key(r.attributes.get(part)))
    return regions


def _queries(root, records, lang: str, queries: str) -> list[tuple]:
    """(record index, text, part, words) of every query: long-caption sentences that name a region,
    or the short captions' noun phrases whose ground-truth part the image has a region for."""
    from glalign.rogle.units import caption_units

    found = []
    if queries == "long":
        for b, r in enumerate(records):
            for c in r.long_captions.get(lang, []):
                found += [(b, s.text, s.part, s.words) for s in c.sentences if s.part is not None]
    else:
        units = caption_units(root, records, lang, "short")
        for b, r in enumerate(records):
            found += [(b, u.text, u.truth, ()) for u in units[r.file_path] if u.truth in r.regions]
    return found


def format_table(out: dict) -> str:
    """The rows of evaluate_local as a plain-text table, with the absent regions per part."""
    def f(v):
        return "-" if v is None else f"{v:6.1f}"

    lines = [f"{'test':22s} {'metric':8s} {'part':10s} {'value':>6s} {'chance':>6s} {'text':>6s} {'n':>6s}"]
    lines += [f"{r['test']:22s} {r['metric']:8s} {r['part']:10s} {f(r['value']):>6s} {f(r['chance']):>6s} "
              f"{f(r['text_only']):>6s} {r['n']:6d}" for r in out["rows"]]
    lines.append(f"queries={out['queries']} regions={out['regions']} absent regions by part: "
                 + ", ".join(f"{p} {n}" for p, n in out["absent"].items())
                 + "; unscored queries (region absent): " + ", ".join(f"{p} {n}" for p, n in out["unscored"].items()))
    return "\n".join(lines)

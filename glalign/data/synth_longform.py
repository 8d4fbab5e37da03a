"""Long-form captions with region ground truth for a SynthPEDES domain (a P-VLG-like variant).

ROGLE's benchmark P-VLG pairs each image with a caption of several sentences and annotated
regions. `add_longform(root)` writes the same kind of annotation for an existing SynthPEDES
domain, in the layout `glalign.data.regions` reads (regions.json beside reid_raw.json):

- regions: the box of every part present in the image's parsing map (part_boxes);
- long_captions: per language one or two captions of 50-150 words (on domain A: median 73 English,
  92 Vietnamese), each a list of sentences whose ground-truth part is the region the sentence
  describes, or null for pose, action, setting and image-quality sentences. Beyond the garments
  they carry grounded details of the regions (hair length, sleeves, pattern, where a garment
  ends, how a bag is carried); the only part-free sentences are the view, the action in a
  setting, and the photo's true conditions (dim light, occlusion, blur, or the whole body in
  view): about 28-30% of the words (47% English before version 3, which padded with stock remarks).

Both languages are written natively (Vietnamese nouns first, modifiers after), in one of
several annotator styles. Noun phrases come from glalign.data.synth_captions (same vocabulary
and phrase writers as the short captions); only the sentence frames are new (longform_frames,
filled by longform_sentences). Deterministic: each image's text depends on (seed, file_path) only.

Completion is marked by ROOT/regions.synth.json (how regions.json was made: this writer's
version, seed, caption count and the domain's synth.json parameters), written after
regions.json; a call whose marker matches is a no-op, so callers may ensure it cheaply."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from glalign.constants import PARTS
from glalign.data.longform_sentences import MAX_WORDS, MIN_WORDS, long_caption
from glalign.data.masks import load_label_map, part_boxes
from glalign.data.mentions import mentions_for
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import PART_OF
from glalign.errors import GlalignError
from glalign.io import write_json

LONG_STYLES = ("head_to_toe", "scene_first", "detailed")
LONGFORM_VERSION = 3  # bump when the written text changes: cached regions.json files are rewritten
MARKER = "regions.synth.json"
__all__ = ["LONGFORM_VERSION", "LONG_STYLES", "MARKER", "MAX_WORDS", "MIN_WORDS", "add_longform", "long_caption",
           "region_attributes"]  # the sentences live in longform_sentences


def _seeded(seed: int, rel: str, lang: str):
    return np.random.default_rng([seed, zlib.crc32(rel.encode("utf-8")), zlib.crc32(lang.encode())])


def region_attributes(mentions: list[dict], present: set[str]) -> dict[str, dict[str, str]]:
    """Each present part's annotated look, slot -> canonical value ("long black hair", "red
    striped white t-shirt"): what the local protocol's attribute relevance compares."""
    out: dict[str, dict[str, str]] = {}
    for m in mentions:
        part = PART_OF[m["slot"]]
        if part in present:
            pattern = m.get("pattern", "plain")
            look = [m.get("length"), m.get("colour"), None if pattern == "plain" else f"{m['pattern_colour']} {pattern}",
                    m["type"]]
            out.setdefault(part, {})[m["slot"]] = " ".join(str(x) for x in look if x)
    return out


def add_longform(root, seed: int = 0, n_captions: int = 2) -> Path:
    """Write ROOT/regions.json for a generated SynthPEDES domain (atomic, deterministic) and
    return its path; a no-op when ROOT/regions.synth.json says it was made with these settings.
    Reads reid_raw.json, annotations.json, conditions.json, synth.json and parsing/."""
    root = Path(root)
    needed = [root / n for n in ("reid_raw.json", "annotations.json", "conditions.json", "synth.json")]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise GlalignError(f"{root} is not a generated SynthPEDES domain (no {', '.join(missing)}); "
                           "generate one with `glalign data synth`")
    path, marker = root / "regions.json", root / MARKER
    made = {"version": LONGFORM_VERSION, "seed": seed, "n_captions": n_captions,
            "domain": json.loads(needed[3].read_text(encoding="utf-8"))["params"]}
    try:
        if path.exists() and json.loads(marker.read_text(encoding="utf-8")) == made:
            return path
    except (OSError, ValueError):  # no marker or a damaged one: write both again
        pass
    marker.unlink(missing_ok=True)  # regions.json is being replaced: never leave an old marker beside it
    entries = json.loads(needed[0].read_text(encoding="utf-8"))
    attributes = json.loads(needed[1].read_text(encoding="utf-8"))["attributes"]
    conditions = json.loads(needed[2].read_text(encoding="utf-8"))
    out = []
    for e in entries:
        rel = e["file_path"]
        label = load_label_map(root / "parsing" / Path(rel).with_suffix(".png"))
        boxes = {p: b for p, b in part_boxes(label).items() if b is not None}
        person, cond = Person(**attributes[str(e["id"])]), Conditions(**conditions[rel])
        caps, looks = {}, region_attributes(mentions_for(person, cond), set(boxes))
        for lang in ("en", "vi"):
            rng = _seeded(seed, rel, lang)
            styles = rng.choice(len(LONG_STYLES), size=n_captions, replace=n_captions > len(LONG_STYLES))
            caps[lang] = [long_caption(person, cond, set(boxes), lang, LONG_STYLES[int(s)], rng) for s in styles]
        out.append({"file_path": rel, "id": e["id"], "split": e["split"],
                    "regions": [{"part": p, "box": list(boxes[p]), "attributes": looks.get(p, {})}
                                for p in PARTS if p in boxes],
                    "long_captions": caps})
    write_json(path, out, indent=None)
    write_json(marker, made)
    return path

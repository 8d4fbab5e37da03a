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
and phrase writers as the short captions); only the sentence frames are new here. Deterministic:
each image's text depends on (seed, file_path) only.

Completion is marked by ROOT/regions.synth.json (how regions.json was made: this writer's
version, seed, caption count and the domain's synth.json parameters), written after
regions.json; a call whose marker matches is a no-op, so callers may ensure it cheaply."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from glalign.constants import PARTS
from glalign.data.captions_en import en_phrase, join_en
from glalign.data.captions_vi import VI_VERB, join_vi, vi_phrase
from glalign.data.masks import load_label_map, part_boxes
from glalign.data.mentions import mentions_for
from glalign.data.regions import word_span
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import PART_OF
from glalign.errors import GlalignError
from glalign.io import write_json

LONG_STYLES = ("head_to_toe", "scene_first", "detailed")
LONGFORM_VERSION = 3  # bump when the written text changes: cached regions.json files are rewritten
MARKER = "regions.synth.json"
MIN_WORDS, MAX_WORDS = 50, 150

# Sentence frames: {P} pronoun, {p} lower-case pronoun, {poss} possessive, {x} the noun phrase.
EN_FRAMES = {
    "UPPERBODY": ("{P} is wearing {x} on top.", "On {poss} upper body {p} has {x}.",
                  "For the top, {p} has chosen {x}."),
    "LOWERBODY": ("Below the waist {p} wears {x}.", "On {poss} lower body {p} has {x}.",
                  "{P} has {x} on {poss} legs."),
    "SHOES": ("On {poss} feet {p} wears {x}.", "{P} has {x} on {poss} feet.", "{Poss} footwear is {x}."),
}
VI_FRAMES = {
    "UPPERBODY": ("{P} mặc {x} ở phần thân trên.", "Phía trên, {p} mặc {x}.", "Bên trên {p} khoác lên người {x}."),
    "LOWERBODY": ("Phía dưới, {p} mặc {x}.", "Phần thân dưới {p} mặc {x}.", "{P} mặc {x} ở phần thân dưới."),
    "SHOES": ("{P} đi {x}.", "Dưới chân {p} là đôi {x}.", "{P} mang {x} dưới chân."),
}
EN_ACC_VERB = {"backpack": "carries", "handbag": "holds", "umbrella": "holds", "phone": "is holding"}
EN_VIEW = {"front": "facing the camera", "back": "walking away from the camera", "side": "seen from the side"}
VI_VIEW = {"front": "đang nhìn về phía máy quay", "back": "đang quay lưng lại phía máy quay",
           "side": "đang đứng nghiêng về một bên"}
SETTINGS = [("on a busy city sidewalk", "trên vỉa hè đông đúc của thành phố"),
            ("in a shopping street", "trên một con phố mua sắm"), ("near a bus stop", "gần một trạm xe buýt"),
            ("on a path across a campus", "trên lối đi trong khuôn viên trường"),
            ("in front of an office building", "trước một tòa nhà văn phòng"),
            ("at a crossroads", "ở một ngã tư")]
ACTIONS = [("walking at a steady pace", "đang đi bộ với tốc độ đều"),
           ("standing still for a moment", "đang đứng yên một lúc"),
           ("about to cross the road", "chuẩn bị băng qua đường"), ("strolling slowly", "đang thong thả dạo bước")]
WHOLE_BODY = ("The whole body is visible from head to toe.", "Có thể nhìn thấy toàn thân từ đầu đến chân.")


def _seeded(seed: int, rel: str, lang: str):
    return np.random.default_rng([seed, zlib.crc32(rel.encode("utf-8")), zlib.crc32(lang.encode())])


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _region_sentences(person: Person, mentions: list[dict], present: set[str], style: str, lang: str,
                      rng) -> list[dict]:
    """One or two sentences per present, described region; {"text", "part"} each."""
    she = person.gender == "woman"
    if lang == "en":
        pron, poss = ("She", "her") if she else ("He", "his")
    else:
        pron, poss = ("Cô ấy", "của cô ấy") if she else ("Anh ấy", "của anh ấy")
    fill = {"P": pron, "p": pron.lower() if lang == "en" else pron[0].lower() + pron[1:], "poss": poss,
            "Poss": poss.capitalize()}
    used: list[dict] = []  # the attribute words of the phrases written since the last sentence

    def phrase(m, **kw):
        text, words = en_phrase(m, rng, **kw) if lang == "en" else vi_phrase(m, rng)
        if words.get("colour") and m.get("colour"):
            used.append({"kind": "colour", "word": words["colour"], "value": m["colour"]})
        if m["slot"] not in ("hair", "glasses"):  # garment and accessory types (hair and glasses are no garment)
            used.append({"kind": "type", "word": words["noun"], "value": m["type"]})
        return text

    def sentence(text: str, part: str) -> dict:
        """The sentence with the attribute words it uses; words not in it wait for the next."""
        words = [w for w in used if word_span(text, w["word"])]
        used[:] = [w for w in used if w not in words]
        return {"text": text, "part": part, "words": words}

    by_slot = {m["slot"]: m for m in mentions if PART_OF[m["slot"]] in present}
    out = []
    head = [by_slot[s] for s in ("hair", "hat", "glasses") if s in by_slot]
    if head:
        out += _head_sentences(head, lang, style, pron, poss, fill, phrase, sentence)
    for slot, part in (("upper", "UPPERBODY"), ("lower", "LOWERBODY"), ("shoes", "SHOES")):
        m = by_slot.get(slot)
        if m is None:
            continue
        frame = _pick(rng, (EN_FRAMES if lang == "en" else VI_FRAMES)[part])
        out.append(sentence(frame.format(x=phrase(m), **fill), part))
        if slot == "upper" and style == "detailed":
            long = m.get("long_sleeves")
            text = (f"The top has {'long' if long else 'short'} sleeves." if lang == "en"
                    else f"Chiếc áo có tay {'dài' if long else 'ngắn'}.")
            out.append(sentence(text, part))
    acc = by_slot.get("accessory")
    if acc is not None:
        text = (f"{pron} {EN_ACC_VERB[acc['type']]} {phrase(acc)}." if lang == "en"
                else f"{pron} {VI_VERB[acc['type']]} một chiếc {phrase(acc)}.")
        out.append(sentence(text, "OTHERS"))
    return out


def _head_sentences(head: list[dict], lang: str, style: str, pron: str, poss: str, fill: dict, phrase,
                    sentence) -> list[dict]:
    """The HEAD sentences: hair, then hat and glasses (two sentences in the detailed style)."""
    hair = [m for m in head if m["slot"] == "hair"]
    rest = [m for m in head if m["slot"] != "hair"]
    if lang == "en":
        hair_txt = f"{pron} has {phrase(hair[0], article=False)}" if hair else ""
        rest_txt = join_en([phrase(m) for m in rest])
        if style == "detailed" and hair and rest:
            return [sentence(hair_txt + ".", "HEAD"),
                    sentence(f"On {poss} head {fill['p']} also wears {rest_txt}.", "HEAD")]
        text = " and wears ".join(x for x in (hair_txt, rest_txt if hair else f"{pron} wears {rest_txt}") if x)
        return [sentence(text + ".", "HEAD")]
    hair_txt = f"{pron} có mái {phrase(hair[0])}" if hair else ""
    rest_txt = join_vi([f"{VI_VERB[m['type']]} {phrase(m)}" for m in rest])
    if style == "detailed" and hair and rest:
        return [sentence(hair_txt + ".", "HEAD"), sentence(f"Trên đầu, {fill['p']} còn {rest_txt}.", "HEAD")]
    text = " và ".join(x for x in (hair_txt, rest_txt if hair else f"{pron} {rest_txt}") if x)
    return [sentence(text + ".", "HEAD")]


EN_LOWER_DETAIL = {"pants": "The trousers reach down to {poss} ankles.", "jeans": "The jeans reach down to {poss} ankles.",
                   "shorts": "The shorts end above {poss} knees.", "skirt": "The skirt ends around {poss} knees."}
VI_LOWER_DETAIL = {"pants": "Chiếc quần dài đến mắt cá chân.", "jeans": "Chiếc quần bò dài đến mắt cá chân.",
                   "shorts": "Chiếc quần ngắn ở trên đầu gối.", "skirt": "Chiếc váy dài đến ngang đầu gối."}
EN_SHOE_DETAIL = {"boots": "The boots cover {poss} ankles.", "sandals": "{Poss} toes show in the sandals.",
                  "sneakers": "The sneakers have flat soles.", "shoes": "The shoes are low and flat."}
VI_SHOE_DETAIL = {"boots": "Đôi bốt che kín mắt cá chân.", "sandals": "Có thể thấy các ngón chân trong đôi dép.",
                  "sneakers": "Đôi giày thể thao có đế bằng.", "shoes": "Đôi giày thấp và đế bằng."}
EN_ACC_DETAIL = {"backpack": "The backpack hangs from both shoulders.", "handbag": "The bag hangs from one hand.",
                 "umbrella": "{P} keeps the umbrella close to {poss} body.", "phone": "The phone is in {poss} hand."}
VI_ACC_DETAIL = {"backpack": "Chiếc ba lô được đeo trên cả hai vai.", "handbag": "Chiếc túi được cầm ở một tay.",
                 "umbrella": "{P} giữ chiếc ô sát người.", "phone": "Chiếc điện thoại nằm trong tay {p}."}


def _detail_sentences(person: Person, mentions: list[dict], present: set[str], style: str, lang: str
                      ) -> list[dict]:
    """Grounded details of the described regions (hair length, sleeves, pattern, where a garment
    ends, the shoes' build, how a bag is carried): each true of the image, with its region's part."""
    from glalign.data.vocabulary import VI_COLOUR

    she = person.gender == "woman"
    en = lang == "en"
    pron, poss = (("She", "her") if she else ("He", "his")) if en else (("Cô ấy", "của cô ấy") if she else ("Anh ấy", "của anh ấy"))
    fill = {"P": pron, "p": pron.lower() if en else pron[0].lower() + pron[1:], "poss": poss, "Poss": poss.capitalize()}
    colour = (lambda c: c) if en else (lambda c: VI_COLOUR[c][0])
    out = []
    for m in mentions:
        part, slot = PART_OF[m["slot"]], m["slot"]
        if part not in present:
            continue
        text = None
        if slot == "hair":
            long = m.get("length") == "long"
            text = ((f"{fill['Poss']} hair falls past {poss} shoulders." if long else f"{fill['Poss']} hair is cut short.")
                    if en else (f"Mái tóc {poss} dài quá vai." if long else f"Mái tóc {poss} được cắt ngắn."))
        elif slot == "upper":
            if style != "detailed":  # the detailed style says it among the garments already
                sleeves = ("long" if m.get("long_sleeves") else "short") if en else ("dài" if m.get("long_sleeves") else "ngắn")
                out.append({"text": f"The top has {sleeves} sleeves." if en else f"Chiếc áo có tay {sleeves}.",
                            "part": part})
            pcol = colour(m["pattern_colour"]) if m.get("pattern") in ("stripes", "logo") else ""
            if m.get("pattern") == "stripes":
                text = f"The top has {pcol} stripes." if en else f"Chiếc áo có sọc màu {pcol}."
            elif m.get("pattern") == "logo":
                text = f"There is a {pcol} logo on the front of the top." if en else f"Phía trước áo có một logo màu {pcol}."
        elif slot in ("lower", "shoes", "accessory"):
            table = {"lower": (EN_LOWER_DETAIL, VI_LOWER_DETAIL), "shoes": (EN_SHOE_DETAIL, VI_SHOE_DETAIL),
                     "accessory": (EN_ACC_DETAIL, VI_ACC_DETAIL)}[slot][0 if en else 1]
            text = table[m["type"]].format(**fill)
        if text:
            out.append({"text": text, "part": part})
    return out


def _context_sentences(person: Person, cond: Conditions, lang: str, rng) -> tuple[list[dict], list[dict]]:
    """(required, optional) sentences about pose, action, setting and the photo: part null."""
    she = person.gender == "woman"
    i = 0 if lang == "en" else 1
    setting, action = _pick(rng, SETTINGS)[i], _pick(rng, ACTIONS)[i]
    if lang == "en":
        who = "woman" if she else "man"
        req = [f"The picture shows a {who} {EN_VIEW[cond.view]}.", f"The {who} is {action} {setting}."]
        opt = []
        if cond.low_light:
            opt.append("The picture was taken in dim light, so the colours look darker.")
        if cond.occluded:
            opt.append("Part of the body is hidden behind something in front of the camera.")
        if cond.blur:
            opt.append("The image is slightly blurry.")
    else:
        who = "người phụ nữ" if she else "người đàn ông"
        req = [f"Bức ảnh chụp một {who} {VI_VIEW[cond.view]}.", f"{who.capitalize()} {action} {setting}."]
        opt = []
        if cond.low_light:
            opt.append("Ảnh được chụp trong điều kiện thiếu sáng nên màu sắc hơi tối.")
        if cond.occluded:
            opt.append("Một phần cơ thể bị che khuất bởi vật ở phía trước.")
        if cond.blur:
            opt.append("Hình ảnh hơi bị mờ.")
    if not cond.occluded:  # the one stock remark kept, and only where it is true
        opt.append(WHOLE_BODY[i])
    return [{"text": t, "part": None} for t in req], [{"text": t, "part": None} for t in opt]


def _words(sentences: list[dict]) -> int:
    return sum(len(s["text"].split()) for s in sentences)


def long_caption(person: Person, cond: Conditions, present: set[str], lang: str, style: str, rng) -> dict:
    """One long-form caption: {"text", "sentences": [{"text", "part", "words"}]}, MIN_WORDS-MAX_WORDS
    words when the person's regions and photo give that much to say."""
    mentions = mentions_for(person, cond)
    regions = _region_sentences(person, mentions, present, style, lang, rng)
    required, optional = _context_sentences(person, cond, lang, rng)
    details = _detail_sentences(person, mentions, present, style, lang)
    if style != "detailed":  # other annotators give some of the details, in their own order
        details = [details[j] for j in rng.permutation(len(details)) if rng.random() < 0.6]
    regions = regions + details
    if style == "scene_first":  # setting first, garments in the annotator's own order
        body = regions[:]
        order = rng.permutation(len(body))
        sentences = required + [body[j] for j in order]
    else:
        sentences = required[:1] + regions + required[1:]
    while _words(sentences) < MIN_WORDS and optional:
        sentences.append(optional.pop(0))
    while _words(sentences) > MAX_WORDS and sentences[-1]["part"] is None:
        sentences.pop()
    return {"text": " ".join(s["text"] for s in sentences), "sentences": sentences}


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

"""SynthPEDES captions: native English and Vietnamese annotator styles, and a phrase-level
translator that produces the other language's 'translated' variant with realistic noise.

A caption is written from a list of mentions (one per described attribute). Each rendered
mention keeps the surface words the annotator chose and the body part it describes, so the
translator works phrase by phrase on the words (not on the hidden attributes) and the NP
analysis has ground truth for every caption."""
from __future__ import annotations

import numpy as np

from glalign.data.synth_people import LONG_SLEEVES, Conditions, Person

# ------------------------------------------------------------------ vocabularies
EN_COLOUR = {c: [c] for c in ("black", "white", "red", "green", "blue", "yellow", "gray", "brown",
                              "pink", "purple", "orange")}
EN_COLOUR["gray"] = ["gray", "grey"]
EN_HAIR_COLOUR = {"black": ["black"], "brown": ["brown"], "yellow": ["blonde", "yellow"], "gray": ["gray"]}
VI_COLOUR = {"black": ["đen"], "white": ["trắng"], "red": ["đỏ"], "green": ["xanh lá", "xanh"],
             "blue": ["xanh dương", "xanh"], "yellow": ["vàng"], "gray": ["xám", "ghi"], "brown": ["nâu"],
             "pink": ["hồng"], "purple": ["tím"], "orange": ["cam"]}

EN_NOUN = {
    "t-shirt": ["t-shirt", "tee", "T-shirt"], "shirt": ["shirt"], "jacket": ["jacket"],
    "sweater": ["sweater", "jumper"], "hoodie": ["hoodie", "sweatshirt"], "coat": ["coat"],
    "pants": ["pants", "trousers"], "jeans": ["jeans"], "shorts": ["shorts"], "skirt": ["skirt"],
    "sneakers": ["sneakers", "trainers"], "boots": ["boots"], "sandals": ["sandals"], "shoes": ["shoes"],
    "backpack": ["backpack", "bag"], "handbag": ["handbag", "purse", "bag"], "umbrella": ["umbrella"],
    "phone": ["phone", "cell phone"], "hat": ["hat", "cap"], "glasses": ["glasses", "spectacles"],
    "hair": ["hair"],
}
VI_NOUN = {
    "t-shirt": ["áo phông", "áo thun"], "shirt": ["áo sơ mi"], "jacket": ["áo khoác"],
    "sweater": ["áo len"], "hoodie": ["áo nỉ", "áo hoodie"], "coat": ["áo choàng", "áo măng tô"],
    "pants": ["quần dài", "quần âu"], "jeans": ["quần bò", "quần jean"], "shorts": ["quần đùi", "quần short"],
    "skirt": ["váy", "chân váy"], "sneakers": ["giày thể thao"], "boots": ["giày bốt", "ủng"],
    "sandals": ["dép", "dép xăng đan"], "shoes": ["giày"], "backpack": ["ba lô", "cặp"],
    "handbag": ["túi xách", "túi"], "umbrella": ["ô", "dù"], "phone": ["điện thoại"],
    "hat": ["mũ", "nón"], "glasses": ["kính"], "hair": ["tóc"],
}
PART_OF = {"hair": "HEAD", "hat": "HEAD", "glasses": "HEAD", "upper": "UPPERBODY", "lower": "LOWERBODY",
           "shoes": "SHOES", "accessory": "OTHERS"}
# What a machine translator emits: one fixed word per meaning, no synonyms.
MT_EN = {k: v[0] for k, v in EN_NOUN.items()} | {"t-shirt": "T-shirt"}
MT_VI = {k: v[0] for k, v in VI_NOUN.items()}
MT_COLOUR_VI = {"black": "đen", "white": "trắng", "red": "đỏ", "green": "xanh", "blue": "xanh",
                "yellow": "vàng", "gray": "xám", "brown": "nâu", "pink": "hồng", "purple": "tím", "orange": "cam"}
STYLES = ("full", "terse", "list", "long")


def _choice(rng, options):
    return options[int(rng.integers(len(options)))]


def _reverse(vocab) -> dict:
    out: dict[str, list[str]] = {}
    for key, words in vocab.items():
        for w in words:
            out.setdefault(w.lower(), []).append(key)
    return out


_EN_COLOUR_REV = _reverse(EN_COLOUR) | {"blonde": ["yellow"]}
_VI_COLOUR_REV = _reverse(VI_COLOUR)
_EN_NOUN_REV = _reverse(EN_NOUN)
_VI_NOUN_REV = _reverse(VI_NOUN)


# ------------------------------------------------------------------ mentions
def mentions_for(person: Person, cond: Conditions) -> list[dict]:
    """What an annotator can see: back views hide glasses and logos."""
    m = [{"slot": "hair", "type": "hair", "colour": person.hair_colour, "length": person.hair_length}]
    if person.hat != "none":
        m.append({"slot": "hat", "type": "hat", "colour": person.hat})
    if person.glasses and cond.view != "back":
        m.append({"slot": "glasses", "type": "glasses", "colour": None})
    pattern = person.pattern if not (person.pattern == "logo" and cond.view != "front") else "plain"
    m.append({"slot": "upper", "type": person.upper_type, "colour": person.upper_colour, "pattern": pattern,
              "pattern_colour": person.pattern_colour, "long_sleeves": person.upper_type in LONG_SLEEVES})
    m.append({"slot": "lower", "type": person.lower_type, "colour": person.lower_colour})
    m.append({"slot": "shoes", "type": person.shoe_type, "colour": person.shoe_colour})
    if person.accessory != "none" and not (person.accessory == "phone" and cond.view == "back"):
        m.append({"slot": "accessory", "type": person.accessory, "colour": person.accessory_colour})
    return m


KEEP = {  # probability an annotator style mentions each slot
    "full": {"hair": 0.9, "hat": 0.9, "glasses": 0.8, "upper": 1, "lower": 1, "shoes": 0.9, "accessory": 0.9},
    "terse": {"hair": 0.3, "hat": 0.3, "glasses": 0.2, "upper": 1, "lower": 0.9, "shoes": 0.3, "accessory": 0.3},
    "list": {"hair": 1, "hat": 0.8, "glasses": 0.7, "upper": 1, "lower": 1, "shoes": 0.8, "accessory": 0.8},
    "long": {"hair": 1, "hat": 1, "glasses": 1, "upper": 1, "lower": 1, "shoes": 1, "accessory": 1},
}


def _pattern_words(m: dict, words: dict, rng, colour_vocab: dict) -> tuple[str, str]:
    """The garment pattern and its colour word: fixed by the translator, else the annotator's choice."""
    pattern = words.get("pattern", m.get("pattern", "plain"))
    pcol = words.get("pattern_colour", "")
    if pattern in ("stripes", "logo") and not pcol:
        pcol = _choice(rng, colour_vocab[m["pattern_colour"]])
    return pattern, pcol


def annotator_mentions(mentions: list[dict], style: str, rng) -> list[dict]:
    """What this annotator bothers to write down: each slot kept with the style's probability
    (terse annotators skip shoes and bags, which is what makes look-alikes ambiguous)."""
    keep = KEEP[style]
    chosen = [m for m in mentions if rng.random() < keep[m["slot"]]]
    return chosen or [m for m in mentions if m["slot"] == "upper"]


# ------------------------------------------------------------------ English
def _en_phrase(m: dict, rng, *, article=True, words=None, prefix: str = "") -> tuple[str, dict]:
    """Render one mention; returns the text and the surface words used (for the translator)."""
    words = dict(words or {})
    slot = m["slot"]
    noun = words.get("noun") or _choice(rng, EN_NOUN[m["type"]])
    colour = words.get("colour", "")
    if colour == "" and m.get("colour"):
        colour = _choice(rng, (EN_HAIR_COLOUR if slot == "hair" else EN_COLOUR)[m["colour"]])
    if slot == "hair":
        length = words.get("length", m.get("length", ""))
        text = " ".join(x for x in (length, colour, noun) if x)
        return text, {"noun": noun, "colour": colour, "length": length}
    plural = noun.endswith("s") and noun not in ("glasses",) or noun in ("glasses", "spectacles", "jeans")
    pattern, pcol = _pattern_words(m, words, rng, EN_COLOUR)
    core = " ".join(x for x in (colour, noun) if x)
    if pattern == "stripes":
        core = f"{colour} and {pcol} striped {noun}" if colour else f"striped {noun}"
    elif pattern == "logo":
        core = f"{core} with a {pcol} logo"
    if prefix:
        core = f"{prefix} {core}"
    if article and not plural:
        core = ("an " if core[0] in "aeiou" else "a ") + core
    return core, {"noun": noun, "colour": colour, "pattern": pattern, "pattern_colour": pcol}


def _join_en(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def write_en(person: Person, mentions: list[dict], style: str, rng, cond: Conditions | None = None,
             fixed_words: dict[str, dict] | None = None) -> tuple[str, list[dict]]:
    """An English caption in an annotator style. Returns (text, rendered mentions)."""
    rendered = []
    if fixed_words is None:
        mentions = annotator_mentions(mentions, style, rng)

    def say(m, **kw):
        text, words = _en_phrase(m, rng, words=(fixed_words or {}).get(m["slot"]), **kw)
        rendered.append({"slot": m["slot"], "part": PART_OF[m["slot"]], "noun": words["noun"], "words": words})
        return text

    she = person.gender == "woman"
    subj, pron, poss = ("woman", "She", "her") if she else ("man", "He", "his")
    subj = _choice(rng, [subj, "lady" if she else "guy", "person"]) if style != "long" else subj
    by_slot = {m["slot"]: m for m in mentions}
    head = [by_slot[s] for s in ("hair", "hat", "glasses") if s in by_slot]
    garments = [by_slot[s] for s in ("upper", "lower", "shoes") if s in by_slot]
    acc = by_slot.get("accessory")
    acc_verb = {"backpack": "carries", "handbag": "holds", "umbrella": "holds", "phone": "is holding"}
    if style == "terse":
        parts = [say(m) for m in garments]
        text = f"{_choice(rng, ['A', 'The'])} {subj} in {_join_en(parts)}."
        if acc:
            text = text[:-1] + f" with {say(acc)}."
        return text, rendered
    head_txt = [say(m, article=m["slot"] != "hair") for m in head]
    if style == "full":
        if rng.random() < 0.3:
            garments = [garments[i] for i in rng.permutation(len(garments))]
        opener = f"A {subj}" + (f" with {_join_en(head_txt)}" if head_txt else "")
        text = f"{opener} is wearing {_join_en([say(m) for m in garments])}."
        if acc:
            text += f" {pron} {acc_verb[acc['type']]} {say(acc)}."
        return text, rendered
    if style == "list":
        text = f"The {subj} has {_join_en(head_txt)}." if head_txt else f"The {subj} is walking."
        up = [m for m in garments if m["slot"] == "upper"]
        rest = [m for m in garments if m["slot"] != "upper"]
        if up:
            text += f" {pron} wears {say(up[0])}."
        if rest:
            text += f" {pron} also has on {_join_en([say(m) for m in rest])}."
        if acc:
            text += f" {pron} {acc_verb[acc['type']]} {say(acc)} in {poss} hand." if acc["type"] != "backpack" \
                else f" A {say(acc, article=False)} is on {poss} back."
        return text, rendered
    # long
    view = {"front": "facing the camera", "back": "walking away from the camera",
            "side": "seen from the side"}[(cond.view if cond else "front")]
    text = f"This {subj} is {view}."
    if head_txt:
        text += f" {pron} has {_join_en(head_txt)}."
    for m in garments:
        if m["slot"] == "upper":
            sleeves = "long-sleeved" if m.get("long_sleeves") else "short-sleeved"
            text += f" {pron} is dressed in {say(m, prefix=sleeves)}."
        elif m["slot"] == "lower":
            text += f" Below that {pron.lower()} wears {say(m)}."
        else:
            text += f" {pron} is wearing {say(m)}."
    if acc:
        text += f" {pron} {acc_verb[acc['type']]} {say(acc)}."
    return text, rendered


# ------------------------------------------------------------------ Vietnamese
def _vi_phrase(m: dict, rng, words=None) -> tuple[str, dict]:
    """Vietnamese noun phrase: the noun comes first, modifiers follow ('áo khoác đỏ')."""
    words = dict(words or {})
    slot = m["slot"]
    noun = words.get("noun") or _choice(rng, VI_NOUN[m["type"]])
    colour = words.get("colour", "")
    if colour == "" and m.get("colour"):
        colour = _choice(rng, VI_COLOUR[m["colour"]])
    with_mau = words.get("mau", bool(rng.random() < 0.4))
    col_txt = (f"màu {colour}" if with_mau else colour) if colour else ""
    if slot == "hair":
        length = words.get("length", {"long": "dài", "short": "ngắn"}.get(m.get("length", ""), ""))
        return " ".join(x for x in (noun, length, col_txt) if x), {"noun": noun, "colour": colour,
                                                                  "length": length, "mau": with_mau}
    pattern, pcol = _pattern_words(m, words, rng, VI_COLOUR)
    text = " ".join(x for x in (noun, col_txt) if x)
    if pattern == "stripes":
        text = f"{noun} kẻ sọc {colour} {pcol}" if colour else f"{noun} kẻ sọc"
    elif pattern == "logo":
        text = f"{text} có logo màu {pcol}"
    return text, {"noun": noun, "colour": colour, "pattern": pattern, "pattern_colour": pcol, "mau": with_mau}


def _join_vi(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " và " + items[-1]


VI_VERB = {"upper": "mặc", "lower": "mặc", "shoes": "đi", "backpack": "đeo", "handbag": "xách",
           "umbrella": "cầm", "phone": "cầm", "hat": "đội", "glasses": "đeo"}


def write_vi(person: Person, mentions: list[dict], style: str, rng, cond: Conditions | None = None,
             fixed_words: dict[str, dict] | None = None) -> tuple[str, list[dict]]:
    """A Vietnamese caption in an annotator style, with Vietnamese word order."""
    rendered = []
    if fixed_words is None:
        mentions = annotator_mentions(mentions, style, rng)

    def say(m):
        text, words = _vi_phrase(m, rng, words=(fixed_words or {}).get(m["slot"]))
        rendered.append({"slot": m["slot"], "part": PART_OF[m["slot"]], "noun": words["noun"], "words": words})
        return text

    she = person.gender == "woman"
    subj = "người phụ nữ" if she else "người đàn ông"
    if style != "long":
        subj = _choice(rng, [subj, "cô gái" if she else "chàng trai"])
    pron = "Cô ấy" if she else "Anh ấy"
    by_slot = {m["slot"]: m for m in mentions}
    hair = by_slot.get("hair")
    extras = [by_slot[s] for s in ("hat", "glasses") if s in by_slot]
    clothes = [by_slot[s] for s in ("upper", "lower") if s in by_slot]
    shoes = by_slot.get("shoes")
    acc = by_slot.get("accessory")
    if style == "terse":
        text = f"{subj.capitalize()} mặc {_join_vi([say(m) for m in clothes])}"
        if shoes:
            text += f", đi {say(shoes)}"
        if acc:
            text += f", {VI_VERB[acc['type']]} {say(acc)}"
        return text + ".", rendered
    if style in ("full", "long"):
        text = f"Một {subj}"
        if hair:
            text += f" {say(hair)}"
        worn = [say(m) for m in clothes]
        if shoes:
            text += f", mặc {', '.join(worn)} và đi {say(shoes)}"
        else:
            text += f", mặc {_join_vi(worn)}"
        text += "."
        if extras:
            text += " " + pron + " " + _join_vi([f"{VI_VERB[m['type']]} {say(m)}" for m in extras]) + "."
        if acc:
            text += f" {pron} {VI_VERB[acc['type']]} một chiếc {say(acc)}."
        if style == "long" and cond is not None:
            text += {"front": " Người này đang nhìn về phía máy quay.", "back": " Người này đang đi quay lưng lại.",
                     "side": " Người này đang đi ngang qua."}[cond.view]
        return text, rendered
    # list
    text = f"{subj.capitalize()} có {say(hair)}." if hair else f"{subj.capitalize()} đang đi bộ."
    for m in clothes:
        text += f" {pron} mặc {say(m)}."
    if shoes:
        text += f" {pron} đi {say(shoes)}."
    for m in extras + ([acc] if acc else []):
        text += f" {pron} {VI_VERB[m['type']]} {say(m)}."
    return text, rendered


# ------------------------------------------------------------------ translation
def translate(person: Person, rendered: list[dict], src: str, rng, cond: Conditions | None = None
              ) -> tuple[str, list[dict]]:
    """Phrase-level machine translation of a rendered caption into the other language.

    Each phrase's words are looked up in a bilingual dictionary: Vietnamese 'xanh' becomes blue
    or green at random, English blue/green both become 'xanh'; a modifier is dropped now and then,
    and synonyms collapse to one fixed word, as machine translation does."""
    mentions, fixed = [], {}
    noun_rev, col_rev = (_EN_NOUN_REV, _EN_COLOUR_REV) if src == "en" else (_VI_NOUN_REV, _VI_COLOUR_REV)
    for r in rendered:
        w = r["words"]
        types = noun_rev[w["noun"].lower()]
        mtype = types[int(rng.integers(len(types)))]  # 'bag' -> backpack or handbag, 'cặp' ...
        colours = col_rev.get(w.get("colour", "").lower(), [None])
        colour = colours[int(rng.integers(len(colours)))]
        if rng.random() < 0.1:  # a lost modifier
            colour = None
        m = {"slot": r["slot"], "type": mtype, "colour": colour}
        pattern = w.get("pattern", "plain")
        if pattern != "plain" and rng.random() < 0.2:
            pattern = "plain"
        pc = col_rev.get(w.get("pattern_colour", "").lower(), [None])
        m.update(pattern=pattern, pattern_colour=pc[0] or "white")
        tgt_words: dict = {}
        if src == "en":  # -> vi
            tgt_words["noun"] = MT_VI[mtype]
            tgt_words["colour"] = MT_COLOUR_VI[colour] if colour else ""
            tgt_words["mau"] = True
            if r["slot"] == "hair":
                tgt_words["length"] = {"long": "dài", "short": "ngắn"}.get(w.get("length", ""), "")
            tgt_words["pattern"] = pattern
            tgt_words["pattern_colour"] = MT_COLOUR_VI.get(m["pattern_colour"], "trắng")
        else:  # -> en
            tgt_words["noun"] = MT_EN[mtype]
            tgt_words["colour"] = colour or ""
            if r["slot"] == "hair":
                tgt_words["length"] = {"dài": "long", "ngắn": "short"}.get(w.get("length", ""), "")
            tgt_words["pattern"] = pattern
            tgt_words["pattern_colour"] = m["pattern_colour"]
        mentions.append(m)
        fixed[r["slot"]] = tgt_words
    writer = write_vi if src == "en" else write_en
    return writer(person, mentions, "list" if src == "vi" else "full", rng, cond, fixed_words=fixed)

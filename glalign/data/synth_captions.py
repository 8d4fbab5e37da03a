"""SynthPEDES captions: native English and Vietnamese annotator styles, and a phrase-level
translator that produces the other language's 'translated' variant with realistic noise.

A caption is written from a list of mentions (one per described attribute). Each rendered
mention keeps the surface words the annotator chose and the body part it describes, so the
translator works phrase by phrase on the words (not on the hidden attributes) and the NP
analysis has ground truth for every caption. Annotators also remark on view, setting and overall
look (mentions with part None) and now and then use words the keyword lexicons never saw."""
from __future__ import annotations

import numpy as np

from glalign.data.synth_people import (ACCESSORIES, LONG_SLEEVES, LOWER_TYPES, SHOE_TYPES, UPPER_TYPES,
                                        Conditions, Person)

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

# Held-out vocabulary: words real CUHK-PEDES / RSTPReid annotators use that the keyword lexicons
# (glalign/text/lexicons, written separately) never list, so the generator and the lexicon no
# longer share one word list. Each still names its true part in the ground truth.
EN_HELD_OUT = {
    "hair": ["curls", "braid"], "hat": ["beret", "fedora", "bandana"], "glasses": ["shades", "goggles"],
    "t-shirt": ["jersey", "singlet"], "shirt": ["tunic"], "jacket": ["anorak", "windcheater"],
    "sweater": ["turtleneck"], "hoodie": ["fleece"], "coat": ["overcoat", "raincoat", "trench"],
    "pants": ["chinos", "joggers"], "shorts": ["bermudas", "trunks"], "skirt": ["miniskirt", "sarong"],
    "sneakers": ["runners", "plimsolls"], "boots": ["wellies"], "sandals": ["clogs", "flip flops"],
    "shoes": ["pumps", "moccasins", "oxfords"], "backpack": ["rucksack", "knapsack"],
    "handbag": ["clutch", "pocketbook"], "umbrella": ["parasol"], "phone": ["smartphone"],
}
VI_HELD_OUT = {  # Vietnamese drops the class noun ('sơ mi' for 'áo sơ mi') or borrows the word
    "shirt": ["sơ mi"], "hoodie": ["hoodie"], "jacket": ["jacket"], "coat": ["măng tô"],
    "jeans": ["jean"], "shorts": ["short"], "skirt": ["đầm", "juýp"], "sneakers": ["sneaker"],
    "shoes": ["sục"], "handbag": ["giỏ xách"], "phone": ["di động"], "hat": ["bê rê"],
}
# Share of part mentions an annotator words with a held-out word (calibrated: paper-mode NP
# coverage of domain A English lands near the paper's Table 2 figure, 83.3%).
HELD_OUT_RATE = {"en": 0.045, "vi": 0.045}

# Machine-translation sense errors: an ambiguous source word rendered in a wrong sense, which
# names another part ('jumper' -> pinafore dress) or no part at all ('trainers' -> coaches).
MT_WRONG_VI = {"hat": ["nắp"], "glasses": ["ly", "cốc"], "t-shirt": ["điểm phát bóng"],
               "sweater": ["váy yếm"], "coat": ["lớp phủ"], "jacket": ["vỏ bọc"], "shorts": ["phim ngắn"],
               "sneakers": ["huấn luyện viên"], "boots": ["khởi động"], "hoodie": ["mũ trùm"]}
MT_WRONG_EN = {"umbrella": ["cell"], "hat": ["cone"], "glasses": ["glass"], "backpack": ["pair"],
               "handbag": ["pocket"], "boots": ["support"], "sweater": ["wool"], "hoodie": ["felt"],
               "t-shirt": ["elastic"], "sneakers": ["sports"], "coat": ["bamboo shoot"]}
WRONG_SENSE_PART = {"váy yếm": "LOWERBODY", "mũ trùm": "HEAD"}
# Share of translated part mentions (of a type with a wrong sense) that get one, by source language
# (calibrated: about 18.5% of translated NPs mismatch their part, the paper's Section 5.2 estimate).
MT_SENSE_ERROR = {"en": 0.435, "vi": 0.45}
TYPE_PART = {"hair": "HEAD", "hat": "HEAD", "glasses": "HEAD"} | {t: "UPPERBODY" for t in UPPER_TYPES} \
    | {t: "LOWERBODY" for t in LOWER_TYPES} | {t: "SHOES" for t in SHOE_TYPES} \
    | {t: "OTHERS" for t in ACCESSORIES if t != "none"}


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
_EN_NOUN_REV = _reverse({k: EN_NOUN[k] + EN_HELD_OUT.get(k, []) for k in EN_NOUN})
_VI_NOUN_REV = _reverse({k: VI_NOUN[k] + VI_HELD_OUT.get(k, []) for k in VI_NOUN})
_WRONG_SENSES = {w for words in (MT_WRONG_EN | MT_WRONG_VI).values() for w in words}


def noun_part(noun: str, lang: str) -> str | None:
    """The part a generator noun names (a wrong translation sense may name another part or none)."""
    noun = noun.lower()
    if noun in _WRONG_SENSES:
        return WRONG_SENSE_PART.get(noun)
    types = (_EN_NOUN_REV if lang == "en" else _VI_NOUN_REV).get(noun)
    return TYPE_PART[types[0]] if types else None


def _annotator_noun(mtype: str, rng, lang: str) -> str:
    """An annotator's word for an item: now and then a held-out one the lexicons never saw."""
    vocab, held = (EN_NOUN, EN_HELD_OUT) if lang == "en" else (VI_NOUN, VI_HELD_OUT)
    if mtype in held and rng.random() < HELD_OUT_RATE[lang]:
        return _choice(rng, held[mtype])
    return _choice(rng, vocab[mtype])


# ------------------------------------------------------------------ context (no body part)
# Annotators also describe pose, view, setting and overall look; these noun phrases name no part
# (ground truth part None). Each key renders as one sentence: (EN frame, EN noun, VI frame, VI noun).
CONTEXT = {
    "street": ("{P} is walking down the street.", "street", "{P} đang đi bộ trên đường phố.", "đường phố"),
    "wall": ("{P} is standing near a wall.", "wall", "{P} đang đứng gần một bức tường.", "tường"),
    "sidewalk": ("{P} is walking on the sidewalk.", "sidewalk", "{P} đang đi trên vỉa hè.", "vỉa hè"),
    "crossing": ("{P} is waiting at a crossing.", "crossing", "{P} đang chờ ở ngã tư.", "ngã tư"),
    "dark": ("{P} is dressed in dark clothes.", "clothes", "{P} mặc trang phục tối màu.", "trang phục"),
    "casual": ("{P} has a casual look.", "look", "{P} có phong cách giản dị.", "phong cách"),
    "front": ("{P} is facing the camera.", "camera", "{P} đang đứng đối diện máy ảnh.", "máy ảnh"),
    "back": ("{P} is seen from the back.", "back", "Ảnh chụp {p} từ đằng sau.", "ảnh"),
    "side": ("{P} is seen from the side.", "side", "Ảnh chụp {p} từ một bên.", "ảnh"),
}
CONTEXT_RATE = {"terse": 0.2, "full": 0.5, "list": 0.6, "long": 0.8}  # chance of a setting/look sentence
VIEW_RATE = {"terse": 0.0, "full": 0.2, "list": 0.3, "long": 1.0}    # chance of a view sentence
_DARK = {"black", "gray", "brown", "blue"}


def context_keys(person: Person, style: str, rng, cond: Conditions | None) -> list[str]:
    """Which non-part remarks this annotator adds: the view, then a setting or the overall look."""
    keys = []
    if cond is not None and rng.random() < VIEW_RATE[style]:
        keys.append(cond.view)
    if rng.random() < CONTEXT_RATE[style]:
        look = "dark" if {person.upper_colour, person.lower_colour} <= _DARK else "casual"
        keys.append(_choice(rng, ["street", "wall", "sidewalk", "crossing", look, look]))
    return keys


def _context(keys: list[str], lang: str, pron: str, rendered: list[dict]) -> str:
    """The non-part sentences, each recorded as a mention with part None."""
    out = []
    for key in keys:
        en, en_noun, vi, vi_noun = CONTEXT[key]
        frame, noun = (en, en_noun) if lang == "en" else (vi, vi_noun)
        out.append(frame.format(P=pron, p=pron.lower()))
        rendered.append({"slot": "context", "part": None, "noun": noun, "words": {"context": key}})
    return "".join(" " + s for s in out)


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
def en_phrase(m: dict, rng, *, article=True, words=None, prefix: str = "", held_out: bool = False
               ) -> tuple[str, dict]:
    """Render one mention; returns the text and the surface words used (for the translator).
    held_out: the annotator may use words the lexicons never saw (caption writers, not long-form)."""
    words = dict(words or {})
    slot = m["slot"]
    noun = words.get("noun") or (_annotator_noun(m["type"], rng, "en") if held_out
                                 else _choice(rng, EN_NOUN[m["type"]]))
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


def join_en(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def write_en(person: Person, mentions: list[dict], style: str, rng, cond: Conditions | None = None,
             fixed_words: dict[str, dict] | None = None, context: list[str] | None = None
             ) -> tuple[str, list[dict]]:
    """An English caption in an annotator style. Returns (text, rendered mentions); the
    translator passes fixed_words and context (the source caption's non-part remarks)."""
    rendered = []
    if fixed_words is None:
        mentions = annotator_mentions(mentions, style, rng)
        context = context_keys(person, style, rng, cond)

    def say(m, **kw):
        text, words = en_phrase(m, rng, words=(fixed_words or {}).get(m["slot"]), held_out=fixed_words is None,
                                 **kw)
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
        text = f"{_choice(rng, ['A', 'The'])} {subj} in {join_en(parts)}."
        if acc:
            text = text[:-1] + f" with {say(acc)}."
        return text + _context(context or [], "en", pron, rendered), rendered
    head_txt = [say(m, article=m["slot"] != "hair") for m in head]
    if style == "full":
        if rng.random() < 0.3:
            garments = [garments[i] for i in rng.permutation(len(garments))]
        opener = f"A {subj}" + (f" with {join_en(head_txt)}" if head_txt else "")
        text = f"{opener} is wearing {join_en([say(m) for m in garments])}."
        if acc:
            text += f" {pron} {acc_verb[acc['type']]} {say(acc)}."
        return text + _context(context or [], "en", pron, rendered), rendered
    if style == "list":
        text = f"The {subj} has {join_en(head_txt)}." if head_txt else f"The {subj} is walking."
        up = [m for m in garments if m["slot"] == "upper"]
        rest = [m for m in garments if m["slot"] != "upper"]
        if up:
            text += f" {pron} wears {say(up[0])}."
        if rest:
            text += f" {pron} also has on {join_en([say(m) for m in rest])}."
        if acc:
            text += f" {pron} {acc_verb[acc['type']]} {say(acc)} in {poss} hand." if acc["type"] != "backpack" \
                else f" A {say(acc, article=False)} is on {poss} back."
        return text + _context(context or [], "en", pron, rendered), rendered
    # long: the view sentence (if any) opens the caption
    views = [k for k in context or [] if k in ("front", "back", "side")]
    text = f"This {subj} is walking." + _context(views, "en", pron, rendered)
    if head_txt:
        text += f" {pron} has {join_en(head_txt)}."
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
    return text + _context([k for k in context or [] if k not in views], "en", pron, rendered), rendered


# ------------------------------------------------------------------ Vietnamese
def vi_phrase(m: dict, rng, words=None, held_out: bool = False) -> tuple[str, dict]:
    """Vietnamese noun phrase: the noun comes first, modifiers follow ('áo khoác đỏ')."""
    words = dict(words or {})
    slot = m["slot"]
    noun = words.get("noun") or (_annotator_noun(m["type"], rng, "vi") if held_out
                                 else _choice(rng, VI_NOUN[m["type"]]))
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


def join_vi(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " và " + items[-1]


VI_VERB = {"upper": "mặc", "lower": "mặc", "shoes": "đi", "backpack": "đeo", "handbag": "xách",
           "umbrella": "cầm", "phone": "cầm", "hat": "đội", "glasses": "đeo"}


def write_vi(person: Person, mentions: list[dict], style: str, rng, cond: Conditions | None = None,
             fixed_words: dict[str, dict] | None = None, context: list[str] | None = None
             ) -> tuple[str, list[dict]]:
    """A Vietnamese caption in an annotator style, with Vietnamese word order (context: as write_en)."""
    rendered = []
    if fixed_words is None:
        mentions = annotator_mentions(mentions, style, rng)
        context = context_keys(person, style, rng, cond)

    def say(m):
        text, words = vi_phrase(m, rng, words=(fixed_words or {}).get(m["slot"]), held_out=fixed_words is None)
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
        text = f"{subj.capitalize()} mặc {join_vi([say(m) for m in clothes])}"
        if shoes:
            text += f", đi {say(shoes)}"
        if acc:
            text += f", {VI_VERB[acc['type']]} {say(acc)}"
        return text + "." + _context(context or [], "vi", pron, rendered), rendered
    if style in ("full", "long"):
        text = f"Một {subj}"
        if hair:
            text += f" {say(hair)}"
        worn = [say(m) for m in clothes]
        if shoes:
            text += f", mặc {', '.join(worn)} và đi {say(shoes)}"
        else:
            text += f", mặc {join_vi(worn)}"
        text += "."
        if extras:
            text += " " + pron + " " + join_vi([f"{VI_VERB[m['type']]} {say(m)}" for m in extras]) + "."
        if acc:
            text += f" {pron} {VI_VERB[acc['type']]} một chiếc {say(acc)}."
        return text + _context(context or [], "vi", pron, rendered), rendered
    # list
    text = f"{subj.capitalize()} có {say(hair)}." if hair else f"{subj.capitalize()} đang đi bộ."
    for m in clothes:
        text += f" {pron} mặc {say(m)}."
    if shoes:
        text += f" {pron} đi {say(shoes)}."
    for m in extras + ([acc] if acc else []):
        text += f" {pron} {VI_VERB[m['type']]} {say(m)}."
    return text + _context(context or [], "vi", pron, rendered), rendered


# ------------------------------------------------------------------ translation
def translate(person: Person, rendered: list[dict], src: str, rng, cond: Conditions | None = None
              ) -> tuple[str, list[dict]]:
    """Phrase-level machine translation of a rendered caption into the other language.

    Each phrase's words are looked up in a bilingual dictionary: Vietnamese 'xanh' becomes blue
    or green at random, English blue/green both become 'xanh'; a modifier is dropped now and then,
    and synonyms collapse to one fixed word, as machine translation does."""
    mentions, fixed, context = [], {}, []
    noun_rev, col_rev = (_EN_NOUN_REV, _EN_COLOUR_REV) if src == "en" else (_VI_NOUN_REV, _VI_COLOUR_REV)
    wrong = MT_WRONG_VI if src == "en" else MT_WRONG_EN
    for r in rendered:
        w = r["words"]
        if r["part"] is None:  # pose, view, setting: translated as is
            context.append(w["context"])
            continue
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
        if mtype in wrong and rng.random() < MT_SENSE_ERROR[src]:  # the word in a wrong sense
            tgt_words["noun"] = _choice(rng, wrong[mtype])
        mentions.append(m)
        fixed[r["slot"]] = tgt_words
    writer = write_vi if src == "en" else write_en
    return writer(person, mentions, "list" if src == "vi" else "full", rng, cond, fixed_words=fixed,
                  context=context)


def translation_mismatch_rate(root) -> dict:
    """Share of a SynthPEDES domain's translated part noun phrases whose words name another part
    or no part (the paper estimates about 18.5%, Section 5.2), from annotations.json."""
    import json
    from pathlib import Path

    root = Path(root)
    params = json.loads((root / "synth.json").read_text())["params"]
    lang = params["translated_language"]
    captions = json.loads((root / "annotations.json").read_text(encoding="utf-8"))["captions"]
    parts = [m for by_lang in captions.values() for cap in by_lang[lang] for m in cap if m["part"]]
    wrong = sum(noun_part(m["noun"], lang) != m["part"] for m in parts)
    return {"source": params["native_language"], "lang": lang, "part_nps": len(parts), "mismatched": wrong,
            "rate": round(100 * wrong / max(len(parts), 1), 1)}

"""SynthPEDES' caption vocabulary: colour and garment words in English and Vietnamese, the parts they
belong to, the held-out synonyms annotators use, and the translator's word tables with their wrong
senses."""
from __future__ import annotations

from glalign.data.synth_people import ACCESSORIES, LOWER_TYPES, SHOE_TYPES, UPPER_TYPES


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


def choice(rng, options):
    return options[int(rng.integers(len(options)))]


def reverse_vocab(vocab) -> dict:
    out: dict[str, list[str]] = {}
    for key, words in vocab.items():
        for w in words:
            out.setdefault(w.lower(), []).append(key)
    return out


EN_COLOUR_REV = reverse_vocab(EN_COLOUR) | {"blonde": ["yellow"]}
VI_COLOUR_REV = reverse_vocab(VI_COLOUR)


EN_NOUN_REV = reverse_vocab({k: EN_NOUN[k] + EN_HELD_OUT.get(k, []) for k in EN_NOUN})
VI_NOUN_REV = reverse_vocab({k: VI_NOUN[k] + VI_HELD_OUT.get(k, []) for k in VI_NOUN})


WRONG_SENSES = {w for words in (MT_WRONG_EN | MT_WRONG_VI).values() for w in words}


def noun_part(noun: str, lang: str) -> str | None:
    """The part a generator noun names (a wrong translation sense may name another part or none)."""
    noun = noun.lower()
    if noun in WRONG_SENSES:
        return WRONG_SENSE_PART.get(noun)
    types = (EN_NOUN_REV if lang == "en" else VI_NOUN_REV).get(noun)
    return TYPE_PART[types[0]] if types else None


def annotator_noun(mtype: str, rng, lang: str) -> str:
    """An annotator's word for an item: now and then a held-out one the lexicons never saw."""
    vocab, held = (EN_NOUN, EN_HELD_OUT) if lang == "en" else (VI_NOUN, VI_HELD_OUT)
    if mtype in held and rng.random() < HELD_OUT_RATE[lang]:
        return choice(rng, held[mtype])
    return choice(rng, vocab[mtype])


def noun_and_colour(m: dict, rng, words: dict, held_out: bool, lang: str) -> tuple[str, str]:
    """A mention's noun and colour words: those given in `words` kept, the others drawn (the noun
    first, then the colour); held_out: the annotator may use a synonym the lexicons never saw."""
    noun = words.get("noun") or (annotator_noun(m["type"], rng, lang) if held_out
                                 else choice(rng, (EN_NOUN if lang == "en" else VI_NOUN)[m["type"]]))
    colour = words.get("colour", "")
    if colour == "" and m.get("colour"):
        table = (EN_HAIR_COLOUR if m["slot"] == "hair" else EN_COLOUR) if lang == "en" else VI_COLOUR
        colour = choice(rng, table[m["colour"]])
    return noun, colour

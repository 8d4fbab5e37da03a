"""SynthPEDES captions: native English and Vietnamese annotator styles, and a phrase-level translator
that produces the other language's 'translated' variant with realistic noise.

A caption is written from a list of mentions (one per described attribute). Each rendered mention
keeps the surface words the annotator chose and the body part it describes, so the translator works
phrase by phrase on the words (not on the hidden attributes) and the NP analysis has ground truth
for every caption. Annotators also remark on view, setting and overall look (mentions with part
None) and now and then use words the keyword lexicons never saw."""
from __future__ import annotations

from glalign.data.synth_people import LONG_SLEEVES, Conditions, Person
from glalign.data.vocabulary import choice


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


DARK = {"black", "gray", "brown", "blue"}


def context_keys(person: Person, style: str, rng, cond: Conditions | None) -> list[str]:
    """Which non-part remarks this annotator adds: the view, then a setting or the overall look."""
    keys = []
    if cond is not None and rng.random() < VIEW_RATE[style]:
        keys.append(cond.view)
    if rng.random() < CONTEXT_RATE[style]:
        look = "dark" if {person.upper_colour, person.lower_colour} <= DARK else "casual"
        keys.append(choice(rng, ["street", "wall", "sidewalk", "crossing", look, look]))
    return keys


def context_text(keys: list[str], lang: str, pron: str, rendered: list[dict]) -> str:
    """The non-part sentences, each recorded as a mention with part None."""
    out = []
    for key in keys:
        en, en_noun, vi, vi_noun = CONTEXT[key]
        frame, noun = (en, en_noun) if lang == "en" else (vi, vi_noun)
        out.append(frame.format(P=pron, p=pron.lower()))
        rendered.append({"slot": "context", "part": None, "noun": noun, "words": {"context": key}})
    return "".join(" " + s for s in out)


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


def pattern_words(m: dict, words: dict, rng, colour_vocab: dict) -> tuple[str, str]:
    """The garment pattern and its colour word: fixed by the translator, else the annotator's choice."""
    pattern = words.get("pattern", m.get("pattern", "plain"))
    pcol = words.get("pattern_colour", "")
    if pattern in ("stripes", "logo") and not pcol:
        pcol = choice(rng, colour_vocab[m["pattern_colour"]])
    return pattern, pcol


def annotator_mentions(mentions: list[dict], style: str, rng) -> list[dict]:
    """What this annotator bothers to write down: each slot kept with the style's probability
    (terse annotators skip shoes and bags, which is what makes look-alikes ambiguous)."""
    keep = KEEP[style]
    chosen = [m for m in mentions if rng.random() < keep[m["slot"]]]
    return chosen or [m for m in mentions if m["slot"] == "upper"]

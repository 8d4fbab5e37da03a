"""Vietnamese captions of SynthPEDES, written natively (adjectives after the noun: 'áo khoác đỏ'), in
the same annotator styles as the English ones."""
from __future__ import annotations

from glalign.data.mentions import annotator_mentions, context_keys, context_text, pattern_words
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import PART_OF, VI_COLOUR, choice, noun_and_colour


def vi_phrase(m: dict, rng, words=None, held_out: bool = False) -> tuple[str, dict]:
    """Vietnamese noun phrase: the noun comes first, modifiers follow ('áo khoác đỏ')."""
    words = dict(words or {})
    slot = m["slot"]
    noun, colour = noun_and_colour(m, rng, words, held_out, "vi")
    with_mau = words.get("mau", bool(rng.random() < 0.4))
    col_txt = (f"màu {colour}" if with_mau else colour) if colour else ""
    if slot == "hair":
        length = words.get("length", {"long": "dài", "short": "ngắn"}.get(m.get("length", ""), ""))
        return " ".join(x for x in (noun, length, col_txt) if x), {"noun": noun, "colour": colour,
                                                                  "length": length, "mau": with_mau}
    pattern, pcol = pattern_words(m, words, rng, VI_COLOUR)
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
        subj = choice(rng, [subj, "cô gái" if she else "chàng trai"])
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
        return text + "." + context_text(context or [], "vi", pron, rendered), rendered
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
        return text + context_text(context or [], "vi", pron, rendered), rendered
    # list
    text = f"{subj.capitalize()} có {say(hair)}." if hair else f"{subj.capitalize()} đang đi bộ."
    for m in clothes:
        text += f" {pron} mặc {say(m)}."
    if shoes:
        text += f" {pron} đi {say(shoes)}."
    for m in extras + ([acc] if acc else []):
        text += f" {pron} {VI_VERB[m['type']]} {say(m)}."
    return text + context_text(context or [], "vi", pron, rendered), rendered

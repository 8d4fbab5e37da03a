"""English captions of SynthPEDES, in the annotator styles (full, terse, list, long): phrases for each
mention, joined in English word order."""
from __future__ import annotations

from glalign.data.mentions import annotator_mentions, context_keys, context_text, pattern_words
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import EN_COLOUR, PART_OF, choice, noun_and_colour


def en_phrase(m: dict, rng, *, article=True, words=None, prefix: str = "", held_out: bool = False
               ) -> tuple[str, dict]:
    """Render one mention; returns the text and the surface words used (for the translator).
    held_out: the annotator may use words the lexicons never saw (caption writers, not long-form)."""
    words = dict(words or {})
    slot = m["slot"]
    noun, colour = noun_and_colour(m, rng, words, held_out, "en")
    if slot == "hair":
        length = words.get("length", m.get("length", ""))
        text = " ".join(x for x in (length, colour, noun) if x)
        return text, {"noun": noun, "colour": colour, "length": length}
    plural = noun.endswith("s") and noun not in ("glasses",) or noun in ("glasses", "spectacles", "jeans")
    pattern, pcol = pattern_words(m, words, rng, EN_COLOUR)
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
    subj = choice(rng, [subj, "lady" if she else "guy", "person"]) if style != "long" else subj
    by_slot = {m["slot"]: m for m in mentions}
    head = [by_slot[s] for s in ("hair", "hat", "glasses") if s in by_slot]
    garments = [by_slot[s] for s in ("upper", "lower", "shoes") if s in by_slot]
    acc = by_slot.get("accessory")
    if style == "terse":
        parts = [say(m) for m in garments]
        text = f"{choice(rng, ['A', 'The'])} {subj} in {join_en(parts)}."
        if acc:
            text = text[:-1] + f" with {say(acc)}."
        return text + context_text(context or [], "en", pron, rendered), rendered
    head_txt = [say(m, article=m["slot"] != "hair") for m in head]
    writer = {"full": _full, "list": _listed}.get(style, _long)
    return writer(say, subj, pron, poss, head_txt, garments, acc, rng, context or [], rendered), rendered


ACC_VERB = {"backpack": "carries", "handbag": "holds", "umbrella": "holds", "phone": "is holding"}


def _full(say, subj, pron, poss, head_txt, garments, acc, rng, context, rendered) -> str:
    if rng.random() < 0.3:
        garments = [garments[i] for i in rng.permutation(len(garments))]
    opener = f"A {subj}" + (f" with {join_en(head_txt)}" if head_txt else "")
    text = f"{opener} is wearing {join_en([say(m) for m in garments])}."
    if acc:
        text += f" {pron} {ACC_VERB[acc['type']]} {say(acc)}."
    return text + context_text(context, "en", pron, rendered)


def _listed(say, subj, pron, poss, head_txt, garments, acc, rng, context, rendered) -> str:
    text = f"The {subj} has {join_en(head_txt)}." if head_txt else f"The {subj} is walking."
    up = [m for m in garments if m["slot"] == "upper"]
    rest = [m for m in garments if m["slot"] != "upper"]
    if up:
        text += f" {pron} wears {say(up[0])}."
    if rest:
        text += f" {pron} also has on {join_en([say(m) for m in rest])}."
    if acc:
        text += f" {pron} {ACC_VERB[acc['type']]} {say(acc)} in {poss} hand." if acc["type"] != "backpack" \
            else f" A {say(acc, article=False)} is on {poss} back."
    return text + context_text(context, "en", pron, rendered)


def _long(say, subj, pron, poss, head_txt, garments, acc, rng, context, rendered) -> str:
    """The long style: the view sentence (if any) opens the caption, one sentence per garment."""
    views = [k for k in context if k in ("front", "back", "side")]
    text = f"This {subj} is walking." + context_text(views, "en", pron, rendered)
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
        text += f" {pron} {ACC_VERB[acc['type']]} {say(acc)}."
    return text + context_text([k for k in context if k not in views], "en", pron, rendered)

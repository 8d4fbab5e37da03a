"""The sentences of one SynthPEDES long-form caption: grounded region sentences (garments, head,
accessory), grounded details, and part-free context (view, action in a setting, the photo's
conditions), put together in an annotator style between MIN_WORDS and MAX_WORDS words.
glalign.data.synth_longform writes them for a whole domain."""
from __future__ import annotations

from glalign.data.captions_en import en_phrase, join_en
from glalign.data.captions_vi import VI_VERB, join_vi, vi_phrase
from glalign.data.longform_frames import (
    ACTIONS, EN_ACC_DETAIL, EN_ACC_VERB, EN_FRAMES, EN_LOWER_DETAIL, EN_SHOE_DETAIL, EN_VIEW, SETTINGS, VI_ACC_DETAIL,
    VI_FRAMES, VI_LOWER_DETAIL, VI_SHOE_DETAIL, VI_VIEW, WHOLE_BODY,
)
from glalign.data.mentions import mentions_for
from glalign.data.regions import word_span
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import PART_OF


MIN_WORDS, MAX_WORDS = 50, 150


def _pronouns(person: Person, lang: str) -> tuple[str, str, dict]:
    """(pronoun, possessive, the frames' fill: P, p, poss, Poss) for the person in one language."""
    she = person.gender == "woman"
    if lang == "en":
        pron, poss = ("She", "her") if she else ("He", "his")
    else:
        pron, poss = ("Cô ấy", "của cô ấy") if she else ("Anh ấy", "của anh ấy")
    fill = {"P": pron, "p": pron.lower() if lang == "en" else pron[0].lower() + pron[1:], "poss": poss,
            "Poss": poss.capitalize()}
    return pron, poss, fill



def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _region_sentences(person: Person, mentions: list[dict], present: set[str], style: str, lang: str,
                      rng) -> list[dict]:
    """One or two sentences per present, described region; {"text", "part"} each."""
    pron, poss, fill = _pronouns(person, lang)
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



def _detail_sentences(person: Person, mentions: list[dict], present: set[str], style: str, lang: str
                      ) -> list[dict]:
    """Grounded details of the described regions (hair length, sleeves, pattern, where a garment
    ends, the shoes' build, how a bag is carried): each true of the image, with its region's part."""
    from glalign.data.vocabulary import VI_COLOUR

    en = lang == "en"
    _, poss, fill = _pronouns(person, lang)
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


# what the photo's conditions look like, said in (English, Vietnamese), in this order
CONDITION_REMARKS = {
    "low_light": ("The picture was taken in dim light, so the colours look darker.",
                  "Ảnh được chụp trong điều kiện thiếu sáng nên màu sắc hơi tối."),
    "occluded": ("Part of the body is hidden behind something in front of the camera.",
                 "Một phần cơ thể bị che khuất bởi vật ở phía trước."),
    "blur": ("The image is slightly blurry.", "Hình ảnh hơi bị mờ."),
}


def _context_sentences(person: Person, cond: Conditions, lang: str, rng) -> tuple[list[dict], list[dict]]:
    """(required, optional) sentences about pose, action, setting and the photo: part null."""
    she = person.gender == "woman"
    i = 0 if lang == "en" else 1
    setting, action = _pick(rng, SETTINGS)[i], _pick(rng, ACTIONS)[i]
    if lang == "en":
        who = "woman" if she else "man"
        req = [f"The picture shows a {who} {EN_VIEW[cond.view]}.", f"The {who} is {action} {setting}."]
    else:
        who = "người phụ nữ" if she else "người đàn ông"
        req = [f"Bức ảnh chụp một {who} {VI_VIEW[cond.view]}.", f"{who.capitalize()} {action} {setting}."]
    opt = [CONDITION_REMARKS[flag][i] for flag in ("low_light", "occluded", "blur") if getattr(cond, flag)]
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

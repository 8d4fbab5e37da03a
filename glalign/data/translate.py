"""The phrase-level translator that makes each domain's translated variant (A's Vietnamese, B's
English) caption for caption, with realistic noise: lost modifiers, colour ambiguity, wrong word
senses; and the mismatch rate it leaves."""
from __future__ import annotations

from glalign.data.captions_en import write_en
from glalign.data.captions_vi import write_vi
from glalign.data.synth_people import Conditions, Person
from glalign.data.vocabulary import (EN_COLOUR_REV, EN_NOUN_REV, MT_COLOUR_VI, MT_EN, MT_SENSE_ERROR, MT_VI,
                                     MT_WRONG_EN, MT_WRONG_VI, VI_COLOUR_REV, VI_NOUN_REV, choice, noun_part)


def translate(person: Person, rendered: list[dict], src: str, rng, cond: Conditions | None = None
              ) -> tuple[str, list[dict]]:
    """Phrase-level machine translation of a rendered caption into the other language.

    Each phrase's words are looked up in a bilingual dictionary: Vietnamese 'xanh' becomes blue
    or green at random, English blue/green both become 'xanh'; a modifier is dropped now and then,
    and synonyms collapse to one fixed word, as machine translation does."""
    mentions, fixed, context = [], {}, []
    noun_rev, col_rev = (EN_NOUN_REV, EN_COLOUR_REV) if src == "en" else (VI_NOUN_REV, VI_COLOUR_REV)
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
            tgt_words["noun"] = choice(rng, wrong[mtype])
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

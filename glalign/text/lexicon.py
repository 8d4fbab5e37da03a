"""Body-part keyword lexicons: the paper's lists verbatim (mode 'paper') and an extended lexicon
(mode 'extended': lemmas, plurals and the synonyms real captions use).

Where the paper lists a word under two parts (Vietnamese "kính" under HEAD and OTHERS), 'paper'
mode keeps the first list it appears in (HEAD), and 'extended' mode puts every kind of glasses
under HEAD, where a parser's label map puts them (results/paper/NOTES.md)."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from glalign.constants import PARTS
from glalign.errors import GlalignError

MODES = ("paper", "extended")


@lru_cache(maxsize=None)
def raw_lexicon(lang: str) -> dict:
    if lang not in ("en", "vi"):
        raise GlalignError(f"unknown language {lang!r}; choose en or vi")
    return json.loads(resources.files("glalign.text").joinpath(f"lexicons/{lang}.json").read_text("utf-8"))


@lru_cache(maxsize=None)
def keyword_to_part(lang: str, mode: str) -> dict[str, str]:
    """keyword -> part, first list wins for words listed under two parts."""
    if mode not in MODES:
        raise GlalignError(f"unknown lexicon mode {mode!r}; choose paper or extended")
    table: dict[str, str] = {}
    lists = raw_lexicon(lang)[mode]
    for part in PARTS:
        for word in lists[part]:
            table.setdefault(word.lower(), part)
    return table


def part_of(head: str, lemma: str | None, lang: str, mode: str) -> str | None:
    """The part a phrase's head noun names, or None: never a guess.

    English: 'paper' matches the head's surface form against the verbatim list; 'extended' also
    tries the lemma. Vietnamese compounds are head-initial ('áo_khoác' is a kind of 'áo'), so the
    whole word is tried first and then its first syllable, in both modes."""
    table = keyword_to_part(lang, mode)
    head = head.lower()
    if lang == "en":
        if head in table:
            return table[head]
        if mode == "extended" and lemma and lemma.lower() in table:
            return table[lemma.lower()]
        return None
    if head in table:
        return table[head]
    first = head.split("_")[0]
    return table.get(first)

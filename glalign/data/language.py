"""Caption language: what a dataset's captions are written in, from the file name
(reid_raw_<lang>.json), SynthPEDES' synth.json, a language field, or the captions' own letters and
words; a request for another language is refused with the evidence."""
from __future__ import annotations

import re
from pathlib import Path

from glalign.data.formats import caption_file, detect_format, load_json, raw_entries
from glalign.errors import DataError

LANGUAGE_NAMES = {"en": "English", "vi": "Vietnamese"}


def native_language(root: Path) -> str | None:
    """The caption language SynthPEDES recorded in synth.json (None for other datasets)."""
    meta = Path(root) / "synth.json"
    if not meta.exists():
        return None
    try:
        return load_json(meta)["params"]["native_language"]
    except (KeyError, TypeError):
        raise DataError(f"{meta}: not a SynthPEDES synth.json (no params.native_language); "
                        "regenerate the domain or delete the file") from None


_VI_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
_EN_WORDS = {"a", "an", "the", "and", "with", "is", "in", "of", "on", "wearing", "has", "his", "her", "he",
             "she", "wears", "carrying"}


def caption_language(captions, sample: int = 200) -> str | None:
    """'vi' when at least half of the first `sample` captions use Vietnamese letters (đ, ư, ơ, tone
    marks), 'en' when at least half are ASCII with English function words, else None (cannot tell;
    e.g. Vietnamese typed without diacritics)."""
    caps = [c.lower() for c in list(captions)[:sample] if isinstance(c, str) and c.strip()]
    if not caps:
        return None
    if sum(any(ch in _VI_LETTERS for ch in c) for c in caps) >= len(caps) / 2:
        return "vi"
    if sum(c.isascii() and bool(_EN_WORDS & set(re.findall(r"[a-z]+", c))) for c in caps) >= len(caps) / 2:
        return "en"
    return None


def file_language(root: Path, path: Path, entries) -> tuple[str | None, str]:
    """(language of a caption file's captions, the evidence): a reid_raw_<lang>.json name,
    synth.json, a language field on every entry, or the caption heuristic."""
    m = re.fullmatch(r"reid_raw_([a-z]{2})\.json", path.name)
    if m:
        return m.group(1), f"the file name {path.name}"
    native = native_language(root)
    if native:
        return native, f"{root / 'synth.json'}"
    declared = {str(e.get("language", e.get("lang"))) for _, e in entries}
    if len(declared) == 1 and declared <= set(LANGUAGE_NAMES):
        return declared.pop(), "the entries' language field"
    caps = [c for _, e in entries[:200] for c in (e["captions"] if isinstance(e["captions"], list)
                                                  else [e["captions"]])]
    found = caption_language(caps)
    return found, "the letters and words of its captions"


def language_mismatch(root, path, fmt, lang, found, evidence) -> str:
    name = lambda code: f"{LANGUAGE_NAMES.get(code, code)} ({code})"  # noqa: E731
    where = ("" if fmt == "manifest" else
             f"; put the {LANGUAGE_NAMES.get(lang, lang)} captions in {root / f'reid_raw_{lang}.json'}")
    return (f"{path}: asked for {name(lang)} captions, but this dataset's captions are {name(found)} "
            f"(from {evidence}) and it has no {LANGUAGE_NAMES.get(lang, lang)} variant{where}, "
            f"or use --lang {found}")


def has_captions_in(root, lang: str, fmt: str = "auto") -> bool:
    """Whether the dataset at `root` has captions in `lang`: its reid_raw_<lang>.json variant exists,
    or its main caption file is in `lang` (synth.json, a language field, else caption_language).
    A dataset whose language cannot be told counts as yes: callers refuse only on evidence."""
    root = Path(root)
    fmt = detect_format(root) if fmt in (None, "auto") else fmt
    path = caption_file(root, fmt, lang)
    found, _ = file_language(root, path, raw_entries(path, fmt))
    return found in (None, lang)

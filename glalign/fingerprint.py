"""The one way the package turns content into a key: sha1 hex digests, cut to n characters.

Run folders, cache folders, index and mined-pairs file names are made of these keys, so any change
here re-keys every user's cache (tests/test_fingerprint.py pins produced keys). In the base layer,
so that every layer keys things the same way."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

BLOCK = 1 << 20  # files are hashed block by block: a weight file need not fit in memory twice


def digest(*parts: bytes | str, n: int | None = None) -> str:
    """sha1 hex of the parts in order (str as UTF-8; parts are concatenated, not separated: the
    caller puts separators where two parts could run together), cut to n characters (all 40 when
    None)."""
    return _sha1(parts, n)


def content_key(obj, n: int | None = None, ensure_ascii: bool = True) -> str:
    """digest of obj as canonical JSON (sorted keys): equal settings give equal keys whatever
    their order."""
    return digest(json.dumps(obj, sort_keys=True, ensure_ascii=ensure_ascii), n=n)


def file_digest(paths: Iterable[Path | str], n: int | None = None) -> str:
    """digest of the files' bytes in order, read block by block."""
    return _sha1((block for path in paths for block in _blocks(path)), n)


def _blocks(path) -> Iterable[bytes]:
    with open(path, "rb") as f:
        yield from iter(lambda: f.read(BLOCK), b"")


def _sha1(parts: Iterable[bytes | str], n: int | None) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()[:n]

"""Decoded, resized images cached once per dataset, beside it, as memory-mapped uint8 arrays.

The in-memory ImageStore decodes every JPEG again in each new run, in each process and in each
DataLoader worker, and keeps one copy per process. The file cache decodes them once per
dataset, image size and mask scheme:

    ROOT/.glalign-cache/images-<size>-<scheme>-<fingerprint>/
        images.npy (N, 3, S, S) uint8   labels.npy (N, S, S) uint8   present.npy (N, 5) bool
        index.json  {"keys": [image path, ...], "size": S, "scheme": ...}

read through the page cache, which every process and worker shares. The fingerprint covers the
image and mask paths with their sizes and modification times, so an edited dataset gets a new
cache; the folder is written under a temporary name and renamed into place whole."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from glalign.constants import PARTS
from glalign.fingerprint import digest
from glalign.io import atomic_dir

ARRAYS = ("images", "labels", "present")  # the .npy files of a cache folder


def fingerprint(records, size: int, scheme: str) -> str:
    """Key of the cache folder: the records' image and mask files by size and mtime, at this size and
    pixel scheme."""
    return digest(f"{size}|{scheme}", *(_file_stamp(path) for r in records for path in (r.image, r.mask)), n=16)


def _file_stamp(path) -> str:
    if path is None:
        return "|-"
    try:
        st = os.stat(path)
        return f"|{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:  # reported by the decoding, which reads it
        return f"|{path}|missing"


class ImageCache:
    """A cache folder, opened lazily in each process (a worker started by spawn reopens it
    rather than receiving a copy of the arrays)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._arrays = None
        self._rows = None

    def _open(self):
        index = json.loads((self.folder / "index.json").read_text(encoding="utf-8"))
        self._rows = {k: i for i, k in enumerate(index["keys"])}
        self._arrays = tuple(np.load(self.folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS)

    def __len__(self):
        if self._rows is None:
            self._open()
        return len(self._rows)

    def get(self, key: str):
        """(image, label map, presence) tensors as ImageStore.get returns them, or None."""
        if self._rows is None:
            self._open()
        row = self._rows.get(key)
        if row is None:
            return None
        img, lab, present = (np.array(a[row]) for a in self._arrays)  # copies: the maps stay read-only
        return torch.from_numpy(img), torch.from_numpy(lab), torch.from_numpy(present)

    def __getstate__(self):
        return {"folder": self.folder, "_arrays": None, "_rows": None}


def cache_folder(root, store, fp: str) -> Path:
    from glalign.data.formats import dataset_cache_dir

    return dataset_cache_dir(root) / f"images-{store.size}-{store.scheme}-{fp}"


def build(store, records, folder: Path) -> ImageCache:
    """Decode every record's image once (the ImageStore's own decoding) into a new cache folder."""
    keys = list(dict.fromkeys(str(r.image) for r in records))
    first = {str(r.image): r for r in reversed(records)}
    with atomic_dir(folder, exists="keep") as stage:  # another process built it meanwhile: theirs stays
        n, s = len(keys), store.size
        images = np.lib.format.open_memmap(stage / "images.npy", "w+", np.uint8, (n, 3, s, s))
        labels = np.lib.format.open_memmap(stage / "labels.npy", "w+", np.uint8, (n, s, s))
        present = np.lib.format.open_memmap(stage / "present.npy", "w+", np.bool_, (n, len(PARTS)))
        for i, key in enumerate(keys):
            img, lab, pres = store.decode(first[key].image, first[key].mask)
            images[i], labels[i], present[i] = img.numpy(), lab.numpy(), pres.numpy()
        for arr in (images, labels, present):
            arr.flush()
        del images, labels, present
        sample = _sample_digest(tuple(np.load(stage / f"{name}.npy", mmap_mode="r") for name in ARRAYS))
        (stage / "index.json").write_text(json.dumps({"keys": keys, "size": s, "scheme": store.scheme,
                                                      "sample_sha1": sample}))
    return ImageCache(folder)


def _sample_digest(arrays) -> str:
    """sha1 of every ~n/64-th row of the three arrays: catches a truncated or overwritten file at
    the cost of reading 64 rows, not the whole cache."""
    return digest(*(np.ascontiguousarray(a[:: max(1, len(a) // 64)]).tobytes() for a in arrays))


def _usable(folder: Path, keys: list[str], size: int, scheme: str) -> bool:
    """The cache folder holds what build() wrote for these keys: index, shapes, dtypes and the
    sampled digest all check out. Anything else (truncated, edited, foreign) is rebuilt."""
    try:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        arrays = tuple(np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS)
    except (OSError, ValueError, UnicodeDecodeError, EOFError):
        return False
    n = len(keys)
    shapes = ((n, 3, size, size), (n, size, size), (n, len(PARTS)))
    return (isinstance(index, dict) and index.get("keys") == keys and index.get("size") == size
            and index.get("scheme") == scheme
            and all(a.shape == sh and a.dtype == dt for a, sh, dt in zip(arrays, shapes, (np.uint8, np.uint8, np.bool_)))
            and index.get("sample_sha1") == _sample_digest(arrays))


def attach(store, records, root) -> ImageCache:
    """Open (building it first if needed) the cache of these records' images, and have the store
    read from it. A cache folder that does not check out is rebuilt, never read."""
    folder = cache_folder(root, store, fingerprint(records, store.size, store.scheme))
    keys = list(dict.fromkeys(str(r.image) for r in records))
    if folder.exists() and not _usable(folder, keys, store.size, store.scheme):
        shutil.rmtree(folder, ignore_errors=True)
    cache = ImageCache(folder) if (folder / "index.json").exists() else build(store, records, folder)
    store.files.append(cache)
    return cache

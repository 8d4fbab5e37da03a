"""Which images a search gallery holds, and where and under which fingerprint their index file is
cached: beside the gallery (named by the run), or in the user cache folder when the gallery is
read-only (named by the gallery too). The fingerprint covers the run's weights, the index dtype,
the mask folder and every image's size and mtime, so a changed image means a rebuilt index."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from glalign.errors import GlalignError
from glalign.fingerprint import digest

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


@dataclass
class GalleryImage:
    image: Path
    mask: Path | None


def list_images(root: Path, masks: str) -> tuple[list[GalleryImage], list[str]]:
    """(images, their paths relative to root): every image file below root, hidden folders left
    out, each with its label map in the `masks` folder beside imgs/ when the gallery is a dataset's."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise GlalignError(f"gallery folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    rels = [p.relative_to(root).as_posix() for p in files]
    masks_root = root.parent / masks if root.name == "imgs" else None
    items = [GalleryImage(p, (m if masks_root and (m := masks_root / rel).exists() else None))
             for p, rel in zip(files, rels)]
    return items, rels


def index_fingerprint(run: Path, dtype: str, masks: str, items, rels) -> str:
    """What the index was built from: the run's weights (first 4 KiB, size, mtime), how it was
    stored, and each image's relative path, size and mtime."""
    weights = run / "model.safetensors"
    with open(weights, "rb") as f:
        head = f.read(4096)
    st = weights.stat()
    parts = [head, f"{st.st_size}:{st.st_mtime_ns}:{dtype}:masks={masks}:pixels=run"]  # the run's normalisation
    for it, rel in zip(items, rels):
        try:
            st = os.stat(it.image)
            parts.append(f"{rel}:{st.st_size}:{st.st_mtime_ns}\n")
        except OSError as exc:  # a dangling link or a loop: skipped when built, part of the fingerprint
            parts.append(f"{rel}:error {exc.errno}\n")
    return digest(*parts)


def index_paths(run: Path, root: Path, masks: str, dtype: str) -> list[Path]:
    """[beside the gallery, in the user cache folder]: where the index of this run over this gallery
    is written."""
    key_run = str(run.resolve()) + ("" if masks == "parsing" else f"|{masks}")
    name = f".glalign-index-{digest(key_run, n=10)}-{'fp16' if dtype == 'float16' else 'fp32'}.gli"
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "glalign"
    return [root / name, user / digest(str(root.resolve()), n=16) / name.lstrip(".")]

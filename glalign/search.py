"""Search a folder of images with a description, and explain a match.

The gallery's embeddings are cached beside it (keyed by the run and each image's size and
mtime) and rebuilt when images change. Exact search: query x gallery products in chunks,
keeping a running top-k, so memory stays bounded for any gallery size."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glalign import PARTS
from glalign.errors import GlalignError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


@dataclass
class _Img:
    image: Path
    mask: Path | None


def topk_fused(query, gallery, alpha: float, k: int, chunk: int = 65536):
    """(scores, indices) of the k best gallery items for one query by the fused score, best first,
    ties to the lower gallery index. The gallery is scored chunk by chunk with a running top-k,
    so memory stays bounded whatever its size."""
    from glalign.evaluate import GalleryEmbeddings, fuse

    best_s = torch.empty(0)
    best_i = torch.empty(0, dtype=torch.long)
    for start in range(0, len(gallery.global_), chunk):
        part = GalleryEmbeddings(*(t[start:start + chunk] for t in (gallery.global_, gallery.regions, gallery.present)))
        s = fuse(query, part, alpha)[0]
        cand_s = torch.cat([best_s, s])  # candidates stay in gallery order, so a stable sort breaks ties by index
        cand_i = torch.cat([best_i, torch.arange(start, start + len(s))])
        keep = torch.sort(-cand_s, stable=True).indices[:k].sort().values
        best_s, best_i = cand_s[keep], cand_i[keep]
    order = torch.sort(-best_s, stable=True).indices
    return best_s[order], best_i[order]


class GalleryIndex:
    def __init__(self, run, gallery, device: str = "cpu", progress: bool = False):
        from glalign.train import load_run

        self.run, self.root = Path(run), Path(gallery)
        if not self.root.is_dir():
            raise GlalignError(f"gallery folder {self.root} does not exist")
        self.model, self.tokenizer, self.cfg = load_run(run, device)
        self.progress = progress
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(self.root).parts))
        if not files:
            raise GlalignError(f"gallery folder {self.root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.paths = [p.relative_to(self.root).as_posix() for p in files]
        masks_root = self.root.parent / "parsing" if self.root.name == "imgs" else None
        self.items = [_Img(p, (m if masks_root and (m := masks_root / rel).exists() else None))
                      for p, rel in zip(files, self.paths)]
        self.embeddings = self._load_or_build()

    def _fingerprint(self) -> str:
        h = hashlib.sha1()
        h.update((self.run / "model.safetensors").read_bytes()[:4096])
        h.update(str((self.run / "model.safetensors").stat().st_mtime_ns).encode())
        for it, rel in zip(self.items, self.paths):
            st = it.image.stat()
            h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def cache_path(self) -> Path:
        return self.root / f".glalign-index-{hashlib.sha1(str(self.run.resolve()).encode()).hexdigest()[:10]}"

    def _load_or_build(self):
        from safetensors.torch import load_file, save_file

        from glalign.data.torchdata import ImageStore
        from glalign.evaluate import encode_gallery
        from glalign.io import atomic_path, write_json
        from glalign.train import model_geometry

        base = self.cache_path()
        fp = self._fingerprint()
        meta_path, tensor_path = base.with_suffix(".json"), base.with_suffix(".safetensors")
        if meta_path.exists() and tensor_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") == fp and meta.get("paths") == self.paths:
                self.rebuilt = False
                t = load_file(str(tensor_path))
                return {"global": t["global"], "regions": t["regions"], "present": t["present"].bool()}
        size, grid = model_geometry(self.model)
        g = encode_gallery(self.model, self.items, ImageStore(size, grid), self.cfg.region_mode,
                           progress=self.progress)
        emb = {"global": g.global_, "regions": g.regions, "present": g.present}
        with atomic_path(tensor_path) as tmp:
            save_file({"global": g.global_, "regions": g.regions, "present": g.present.to(torch.uint8)}, str(tmp))
        write_json(meta_path, {"fingerprint": fp, "paths": self.paths, "run": str(self.run)})
        self.rebuilt = True
        return emb

    def _query(self, text: str):
        from glalign.evaluate import encode_queries
        from glalign.text.phrases import extract, part_phrases
        from glalign.train import text_view_for

        if not text.strip():
            raise GlalignError("the query is empty; describe the person, e.g. 'a woman in a red jacket'")
        phrases = extract([text], self.cfg.lang, self.cfg.lexicon_mode)[0]
        q = encode_queries(self.model, self.tokenizer, [text], [part_phrases(phrases)], self.cfg.max_length,
                           text_view_for(self.cfg.text_kind, self.cfg.lang, [text]), progress=False)
        return q, phrases

    def _gallery(self):
        from glalign.evaluate import GalleryEmbeddings

        e = self.embeddings
        return GalleryEmbeddings(e["global"], e["regions"], e["present"])

    def scores(self, text: str, alpha: float | None = None) -> torch.Tensor:
        """The fused score of every gallery image (for plots; search() does not need them all)."""
        from glalign.evaluate import fuse

        q, _ = self._query(text)
        return fuse(q, self._gallery(), self.cfg.alpha if alpha is None else alpha)[0]

    def search(self, text: str, top_k: int = 10, alpha: float | None = None) -> list[dict]:
        q, _ = self._query(text)
        vals, idx = topk_fused(q, self._gallery(), self.cfg.alpha if alpha is None else alpha, top_k)
        return [{"rank": i + 1, "path": self.paths[j], "score": round(float(v), 6)}
                for i, (v, j) in enumerate(zip(vals.tolist(), idx.tolist()))]

    def explain(self, text: str, path: str, alpha: float | None = None) -> dict:
        """Per query part: its phrase, the image region's presence and the local similarity."""
        from glalign.evaluate import mix
        from glalign.text.phrases import part_phrases

        if path not in self.paths:
            raise GlalignError(f"{path} is not in the gallery {self.root}")
        j = self.paths.index(path)
        q, phrases = self._query(text)
        alpha = self.cfg.alpha if alpha is None else alpha
        e = self.embeddings
        glob = float(q.global_[0] @ e["global"][j])
        items = []
        for name, phrase in part_phrases(phrases).items():
            p = PARTS.index(name)
            present = bool(e["present"][j, p])
            sim = float(q.phrases[0, p] @ e["regions"][j, p]) if present else 0.0
            items.append({"part": name, "text": phrase, "region_present": present, "similarity": sim})
        local = float(np.mean([i["similarity"] for i in items])) if items else 0.0
        return {"query": text, "path": path, "global": glob, "local": local, "alpha": alpha,
                "score": mix(alpha, glob, local), "phrases": items,
                "unmapped": [p.text for p in phrases if p.part is None]}


def search_cli(args) -> int:
    index = GalleryIndex(args.run, args.gallery)
    hits = index.search(args.query, args.top_k, args.alpha)
    if args.out:
        import matplotlib.pyplot as plt

        from glalign.plots import result_strip

        fig = result_strip(args.query, [index.root / h["path"] for h in hits], [h["score"] for h in hits])
        fig.savefig(args.out, dpi=110, bbox_inches="tight")
        plt.close(fig)
    if args.json:
        print(json.dumps(hits, ensure_ascii=False))
    else:
        for h in hits:
            print(f"{h['rank']:>3}  {h['score']:.4f}  {h['path']}")
    return 0

"""Search a folder of images with a description, and explain a match.

The gallery's embeddings become one memory-mapped index file (glalign.index), keyed by the run and
each image's size and mtime (glalign.retrieval.gallery_cache), and rebuilt when images change or
the file does not check out. Exact search is one product per query batch over the map; `topk_fused` stays as the reference the index
is tested against."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from glalign.constants import PARTS
from glalign.errors import DataError, GlalignError
from glalign.retrieval.gallery_cache import IMAGE_SUFFIXES  # noqa: F401  (its old home)
from glalign.retrieval.gallery_cache import index_fingerprint, index_paths, list_images
from glalign.retrieval.index import DTYPES


def topk_fused(query, gallery, alpha: float, k: int, chunk: int = 65536):
    """(scores, indices) of the k best gallery items for one query by the fused score, best first,
    ties to the lower gallery index. The gallery is scored chunk by chunk with a running top-k,
    so memory stays bounded whatever its size."""
    from glalign.retrieval.embeddings import GalleryEmbeddings
    from glalign.retrieval.fusion import fuse

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
    """A folder of images, embedded once into a memory-mapped index file (see glalign.index) and
    searched by a description. The file lives beside the gallery, or in the user cache folder when
    the gallery is read-only; it is rebuilt whenever it does not check out. Unreadable images are
    skipped and listed in `skipped` (`strict=True`: the first one is an error)."""

    def __init__(self, run, gallery, device: str = "cpu", progress: bool = False, dtype: str = "float16",
                 strict: bool = False, index: str = "exact", nprobe: int = 32, masks: str = "parsing"):
        """masks: the folder beside a dataset's imgs/ holding the part label maps the regions are
        taken from (a SynthPEDES domain: "parsing" is the generator's ground truth, Workspace.masks
        names SynthParser's, the ones its runs train on)."""
        from glalign.model.factory import load_run

        self.run, self.root = Path(run), Path(gallery)
        if not self.root.is_dir():
            raise GlalignError(f"gallery folder {self.root} " + ("is a file; pass the folder of images" if
                                                                 self.root.exists() else "does not exist"))
        if dtype not in DTYPES or index not in ("exact", "faiss"):
            raise ValueError(f"dtype {dtype!r} / index {index!r}")
        self.dtype, self.strict, self.kind, self.nprobe, self.progress = dtype, strict, index, nprobe, progress
        self.model, self.tokenizer, self.cfg = load_run(run, device)
        self.masks = masks
        self.items, self._rels = list_images(self.root, masks)
        self.index = self._load_or_build()
        self.paths: list[str] = self.index.header["paths"]
        self.skipped: list[list[str]] = self.index.header["skipped"]  # [relative path, why]
        if strict and self.skipped:
            raise DataError(f"{self.root / self.skipped[0][0]}: {self.skipped[0][1]} (drop --strict to skip "
                            f"unreadable images; {len(self.skipped)} in this gallery)")
        self._ivf = None

    def cache_path(self) -> Path:
        """Where the index is written: beside the gallery, or in the user cache folder if the gallery
        folder is read-only."""
        return self._cache_paths()[0 if os.access(self.root, os.W_OK) else 1]

    def _cache_paths(self) -> list[Path]:
        return index_paths(self.run, self.root, self.masks, self.dtype)

    def _load_or_build(self):
        from glalign.retrieval.index import FusedIndex, IndexUnusable, write_index

        fp = index_fingerprint(self.run, self.dtype, self.masks, self.items, self._rels)
        for path in self._cache_paths():
            if path.is_file():
                try:
                    idx = FusedIndex(path, {"fingerprint": fp})
                    if len(idx.header.get("paths", ())) == idx.n and isinstance(idx.header.get("skipped"), list):
                        self.rebuilt = False
                        return idx
                except IndexUnusable:
                    pass  # truncated, garbage, stale or foreign: rebuilt below
        emb, paths, skipped = self._encode()
        meta = {"fingerprint": fp, "paths": paths, "skipped": skipped, "run": str(self.run)}
        target = self.cache_path()
        try:
            write_index(target, *emb, dtype=self.dtype, meta=meta)
        except OSError:  # the folder looked writable but is not (read-only mount, full disk)
            target = self._cache_paths()[1]
            write_index(target, *emb, dtype=self.dtype, meta=meta)
        self.rebuilt = True
        return FusedIndex(target, {"fingerprint": fp})

    def _encode(self, block: int = 512):
        """Embed the readable images block by block (a fresh image store per block bounds memory)."""
        from tqdm.auto import tqdm

        from glalign.retrieval.embeddings import encode_gallery
        from glalign.model.factory import image_store_for

        outs, paths, skipped = [], [], []
        for start in tqdm(range(0, len(self.items), block), desc="gallery", unit="block", leave=False,
                          disable=not self.progress):
            store, good = image_store_for(self.model), []  # the run's own resize and normalisation
            for it, rel in zip(self.items[start:start + block], self._rels[start:start + block]):
                try:
                    store.get(it.image, it.mask)
                except DataError as exc:
                    if self.strict:
                        raise DataError(f"{exc} (drop --strict to skip unreadable images)") from None
                    skipped.append([rel, str(exc)])
                    continue
                good.append(it)
                paths.append(rel)
            if good:
                g = encode_gallery(self.model, good, store, self.cfg.region_mode, progress=False)
                outs.append((g.global_, g.regions, g.present))
        if not outs:
            raise GlalignError(f"gallery folder {self.root}: none of its {len(self.items)} images can be read "
                               f"(first: {skipped[0][1]})")
        return [torch.cat(t) for t in zip(*outs)], paths, skipped

    def _query(self, text: str):
        from glalign.retrieval.embeddings import encode_queries
        from glalign.model.factory import text_view_for
        from glalign.text.phrases import extract, part_phrases

        if not text.strip():
            raise GlalignError("the query is empty; describe the person, e.g. 'a woman in a red jacket'")
        if getattr(self.cfg, "phrase_routing", "lexicon") != "lexicon":
            import warnings

            warnings.warn(f"{self.run} was trained on mined pairs (phrase_routing {self.cfg.phrase_routing!r}); search "
                          "routes the query's noun phrases by the keyword lexicon all the same (its index scores a "
                          "fused linear form; `glalign evaluate` scores such runs by their best region)", stacklevel=2)
        phrases = extract([text], self.cfg.lang, self.cfg.lexicon_mode)[0]
        q = encode_queries(self.model, self.tokenizer, [text], [part_phrases(phrases)], self.cfg.max_length,
                           text_view_for(self.cfg.text_kind, self.cfg.lang, [text]), progress=False,
                           lang=self.cfg.lang)
        return q, phrases

    def _rows(self, q, alpha: float) -> np.ndarray:
        from glalign.retrieval.fusion import query_rows

        w = query_rows(q, alpha)
        if not np.isfinite(w).all():
            raise GlalignError(f"the query's embedding is not finite (NaN or inf) with the model {self.run}; "
                               "nothing was searched")
        return w

    def _fused(self, text: str, alpha: float | None, fusion: str) -> np.ndarray:
        """(1, G) fused scores of the whole gallery: zscore standardises each score over it, through
        glalign.retrieval.fusion.combine, as evaluate does."""
        from glalign.retrieval.fusion import check_fusion, combine

        check_fusion(fusion)
        alpha = self.cfg.alpha if alpha is None else alpha
        q, _ = self._query(text)
        if fusion == "raw":
            return self.index.scores(self._rows(q, alpha))
        return combine(alpha, self.index.scores(self._rows(q, 1.0)), self.index.scores(self._rows(q, 0.0)), fusion)

    def scores(self, text: str, alpha: float | None = None, fusion: str = "raw") -> torch.Tensor:
        """The fused score of every gallery image (for plots; raw search() does not need them all)."""
        return torch.from_numpy(np.array(self._fused(text, alpha, fusion)[0], dtype=np.float32))

    def search(self, text: str, top_k: int = 10, alpha: float | None = None, fusion: str = "raw") -> list[dict]:
        """The top_k images, best first (ties to the earlier path). raw fusion: the index's top-k
        (exact, or faiss's candidates re-ranked); zscore: every image scored, then sorted."""
        from glalign.retrieval.fusion import check_fusion

        check_fusion(fusion)
        if fusion != "raw":
            if self.kind == "faiss":
                raise GlalignError("--fusion zscore standardises every score over the whole gallery; "
                                   "use --index exact with it")
            s = self._fused(text, alpha, fusion)
            idx = np.argsort(-s, axis=1, kind="stable")[:, :top_k]
            vals = np.take_along_axis(s, idx, 1)
        elif self.kind == "faiss":
            from glalign.retrieval.index import faiss_topk, open_faiss

            w = self._rows(self._query(text)[0], self.cfg.alpha if alpha is None else alpha)
            self._ivf = self._ivf or open_faiss(self.index, progress=self.progress)
            vals, idx = faiss_topk(self.index, self._ivf, w, top_k, self.nprobe)
        else:
            vals, idx = self.index.topk(self._rows(self._query(text)[0], self.cfg.alpha if alpha is None else alpha),
                                        top_k)
        if not np.isfinite(vals).all():  # finite query rows: the stored rows are not (edited after writing)
            raise GlalignError(f"the index {self.index.path} gives non-finite scores; delete it and search again "
                               "to rebuild it")
        return [{"rank": i + 1, "path": self.paths[j], "score": round(float(v), 6)}
                for i, (v, j) in enumerate(zip(vals[0].tolist(), idx[0].tolist()))]

    def explain(self, text: str, path: str, alpha: float | None = None) -> dict:
        """Per query part: its phrase, the image region's presence and the local similarity."""
        from glalign.retrieval.fusion import mix
        from glalign.text.phrases import part_phrases

        if path not in self.paths:
            raise GlalignError(f"{path} is not in the gallery {self.root}")
        glob_j, regions, present = self.index.embeddings(self.paths.index(path))
        q, phrases = self._query(text)
        alpha = self.cfg.alpha if alpha is None else alpha
        glob = float(q.global_[0] @ glob_j)
        items = []
        for name, phrase in part_phrases(phrases).items():
            p = PARTS.index(name)
            sim = float(q.phrases[0, p] @ regions[p]) if present[p] else 0.0
            items.append({"part": name, "text": phrase, "region_present": bool(present[p]), "similarity": sim})
        local = float(np.mean([i["similarity"] for i in items])) if items else 0.0
        return {"query": text, "path": path, "global": glob, "local": local, "alpha": alpha,
                "score": mix(alpha, glob, local), "phrases": items,
                "unmapped": [p.text for p in phrases if p.part is None]}

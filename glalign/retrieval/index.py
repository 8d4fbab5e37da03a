"""A gallery's embeddings as ONE memory-mapped file, searched exactly by the fused score.

The fused score fused(q, j) = α g_q·g_j + (1-α)/n_q Σ_p [q has p][j has p] phr_qp·reg_jp is one dot
product w_q·x_j between the gallery row x_j = [g_j | reg_j1 .. reg_j5] (a region zeroed where the
image lacks the part) and the query row w_q = [α g_q | (1-α)/n_q phr_qp] (zeros where the query lacks
p). So a query batch is one (Q × 6d) @ (6d × G) product read straight from the map, and the top-k is
a partition per chunk, never a sort of the gallery.

File: magic, header length, a JSON header (shape, dtype, fingerprint, image paths, a digest of the
masks), then the row matrix and the part masks at 64-byte aligned offsets. One file, written
atomically, so vectors and names can never come from two different galleries; anything that does
not check out (truncated, garbage, another fingerprint) is reported unusable and rebuilt by the caller.

Screens, then exact re-scoring. One query on fp16 rows: torch's fp16 matrix-vector kernel (fp32
accumulation, checked at first use) scores the gallery at the cost of reading it once. Several
queries: a bfloat16 copy of the rows (the "screen" section) goes through the CPU's bf16 matrix
product (fp32 accumulation, checked at first use), which keeps 32 queries close to the cost of one
pass over memory where fp32 arithmetic would be compute-bound. Either way, every row that could be in
the top-k under a proven rounding bound is re-scored in fp32 from the stored rows, so the result
equals the fp32-compute path."""
from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import numpy as np
import torch

from glalign.errors import GlalignError
from glalign.fingerprint import content_key, digest
from glalign.retrieval.fusion import query_rows  # noqa: F401  (its home is glalign.retrieval.fusion)

MAGIC = b"GLAIDX1\n"
N_PARTS = 5
DTYPES = {"float16": np.float16, "float32": np.float32}
BLOCK = 4096            # rows per product: a converted block stays in cache
SPAN = 1 << 18          # rows per top-k selection
QGROUP = 32             # queries per bf16 screen product (more is slower per query on this CPU)
BLOCK_MAX = 128         # rows per block maximum in the bf16 screen
BF16_U = 2 ** -8        # unit roundoff of bfloat16 (8-bit significand)


class IndexUnusable(Exception):
    """The index file cannot be trusted (missing, truncated, foreign, stale): rebuild it."""


def _align(n: int) -> int:
    return (n + 63) // 64 * 64


def gallery_rows(global_: torch.Tensor, regions: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """(G, 6d) rows [g | reg_1 .. reg_5], a region zeroed where the image lacks the part."""
    return torch.cat([global_, (regions * present[..., None]).flatten(1)], 1).float()


def _bf16_bits(block: np.ndarray) -> np.ndarray:
    """bfloat16 (round to nearest) of the stored values, as the uint16 bit patterns numpy can hold."""
    return torch.from_numpy(block.astype(np.float32)).bfloat16().view(torch.int16).numpy().view(np.uint16)


def write_index(path, global_, regions, present, dtype: str = "float16", meta: dict | None = None,
                screen: bool = True) -> Path:
    """Write the one-file index atomically (streamed in blocks, so a large gallery needs no second copy).
    `screen`: also store the bf16 copy of the rows that screens query batches (a third more bytes
    on disk for fp16 rows; only the pages of re-scored rows are read from the rows themselves)."""
    from glalign.io import atomic_path

    path, np_dtype = Path(path), DTYPES[dtype]
    g, d = global_.shape
    masks = present.to(torch.uint8).numpy()
    rows_bytes = g * (N_PARTS + 1) * d * np.dtype(np_dtype).itemsize
    max_norm = 0.0
    header = {"version": 1, "n": g, "dim": d, "dtype": dtype, "masks_sha1": digest(masks.tobytes()),
              **(meta or {})}
    # the max row norm (of the stored values) bounds the fp16 screen's rounding error; computed before writing
    for s in range(0, g, SPAN):
        with np.errstate(over="ignore"):  # an overflow to inf is refused just below
            block = gallery_rows(global_[s:s + SPAN], regions[s:s + SPAN], present[s:s + SPAN]).numpy().astype(np_dtype)
        if not np.isfinite(block).all():  # NaN ranks nowhere; inf may also be a value beyond fp16's range
            row = s + int(np.flatnonzero(~np.isfinite(block).all(1))[0])
            raise GlalignError(f"gallery embedding {row} is not finite (NaN or inf) as {dtype}: the model gives "
                               f"non-finite embeddings; nothing was written to {path}")
        max_norm = max(max_norm, float(np.sqrt((block.astype(np.float32) ** 2).sum(1)).max(initial=0.0)))
    header["max_row_norm"] = max_norm
    if screen:
        header["screen"] = "bfloat16"
    head = json.dumps(header, ensure_ascii=False).encode()
    data_off = _align(len(MAGIC) + 8 + len(head))
    masks_off = _align(data_off + rows_bytes)
    screen_off = _align(masks_off + masks.nbytes)
    header_bytes = MAGIC + struct.pack("<Q", len(head)) + head
    blocks = lambda: (gallery_rows(global_[s:s + SPAN], regions[s:s + SPAN], present[s:s + SPAN]).numpy()  # noqa: E731
                      .astype(np_dtype) for s in range(0, g, SPAN))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(header_bytes.ljust(data_off, b"\0"))
        for block in blocks():
            f.write(block.tobytes())
        f.write(b"\0" * (masks_off - data_off - rows_bytes))
        f.write(masks.tobytes())
        if screen:
            f.write(b"\0" * (screen_off - masks_off - masks.nbytes))
            for block in blocks():
                f.write(_bf16_bits(block).tobytes())
    return path


class FusedIndex:
    """An opened index: `rows` (G, 6d) and `masks` (G, 5) are read-only memory maps (no copy)."""

    def __init__(self, path, expect: dict | None = None):
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    raise IndexUnusable("not a glalign index")
                (hlen,) = struct.unpack("<Q", f.read(8))
                if hlen > size:
                    raise IndexUnusable("header longer than the file")
                self.header = json.loads(f.read(hlen).decode())
            h = self.header
            n, d, dtype = int(h["n"]), int(h["dim"]), DTYPES[h["dtype"]]
        except IndexUnusable:
            raise
        except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
            raise IndexUnusable(f"unreadable header ({type(exc).__name__})") from None
        for key, want in (expect or {}).items():
            if h.get(key) != want:
                raise IndexUnusable(f"{key} does not match the gallery")
        data_off = _align(len(MAGIC) + 8 + hlen)
        masks_off = _align(data_off + n * (N_PARTS + 1) * d * np.dtype(dtype).itemsize)
        screen_off = _align(masks_off + n * N_PARTS)
        if h.get("screen") not in (None, "bfloat16"):
            raise IndexUnusable(f"unknown screen {h.get('screen')!r}")
        expected = screen_off + n * (N_PARTS + 1) * d * 2 if h.get("screen") else masks_off + n * N_PARTS
        if size != expected:
            raise IndexUnusable(f"size {size} bytes, expected {expected} (truncated or padded)")
        self.n, self.dim, self.dtype = n, d, h["dtype"]
        self.rows = np.memmap(self.path, dtype, "r", offset=data_off, shape=(n, (N_PARTS + 1) * d)) if n else \
            np.zeros((0, (N_PARTS + 1) * d), dtype)
        self.masks = np.memmap(self.path, np.uint8, "r", offset=masks_off, shape=(n, N_PARTS)) if n else \
            np.zeros((0, N_PARTS), np.uint8)
        self.screen = (np.memmap(self.path, np.uint16, "r", offset=screen_off, shape=(n, (N_PARTS + 1) * d))
                       if n and h.get("screen") else None)
        if digest(np.ascontiguousarray(self.masks).tobytes()) != h.get("masks_sha1"):
            raise IndexUnusable("part masks do not match their digest")
        sample = np.asarray(self.rows[:: max(1, n // 64)], dtype=np.float32)
        absent = np.repeat(self.masks[:: max(1, n // 64)] == 0, d, axis=1)
        if not np.isfinite(sample).all() or np.abs(sample[:, d:][absent]).max(initial=0) != 0:
            raise IndexUnusable("rows are not finite or a missing part has a vector")
        if self.screen is not None and not np.array_equal(self.screen[:: max(1, n // 64)], _bf16_bits(sample)):
            raise IndexUnusable("the bf16 screen does not match the rows")

    # ------------------------------------------------------------------ reading
    def row_block(self, start: int, stop: int) -> torch.Tensor:
        with warnings.catch_warnings():  # a read-only map: torch warns it is not writable, we never write
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(self.rows[start:stop])

    def screen_block(self, start: int, stop: int) -> torch.Tensor:
        """The bf16 copy of rows [start, stop), as a bfloat16 tensor over the map."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(self.screen[start:stop]).view(torch.bfloat16)

    def embeddings(self, j: int):
        """(global (d,), regions (5, d), present (5,)) of image j, as float32 tensors."""
        r = torch.from_numpy(np.array(self.rows[j], dtype=np.float32))
        return r[:self.dim], r[self.dim:].view(N_PARTS, self.dim), torch.from_numpy(self.masks[j] > 0)

    def exact_scores(self, w: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """fp32 fused scores of the rows `idx` (any order) for the query rows w (Q, 6d): (Q, len(idx))."""
        rows = self.row_block(0, self.n).index_select(0, torch.as_tensor(np.asarray(idx, np.int64))).float()
        return (torch.from_numpy(w) @ rows.t()).numpy()

    # ------------------------------------------------------------------ scoring
    def scores(self, w: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(Q, stop-start) float32 fused scores, fp32 arithmetic on the stored values."""
        stop = self.n if stop is None else stop
        out = np.empty((stop - start, len(w)), np.float32)  # row blocks of the product are contiguous
        if self.dtype == "float32":  # the stored bytes are the operand: one BLAS product per block
            wt = np.ascontiguousarray(w.T)
            for s in range(start, stop, BLOCK):
                e = min(stop, s + BLOCK)
                np.dot(self.rows[s:e], wt, out=out[s - start:e - start])
            return out.T
        wt, res = torch.from_numpy(w).t().contiguous(), torch.from_numpy(out)
        buf = torch.empty(BLOCK, self.rows.shape[1])
        for s in range(start, stop, BLOCK):
            e = min(stop, s + BLOCK)
            b = buf[:e - s]
            b.copy_(self.row_block(s, e))  # fp16 -> fp32 in a cache-sized block, then one product
            torch.mm(b, wt, out=res[s - start:e - start])
        return out.T

    def topk(self, w: np.ndarray, k: int, exact_screen: bool = True):
        """(scores (Q, k'), indices (Q, k')) best first, ties to the lower index, k' = min(k, G)."""
        k = min(k, self.n)
        if k == 0:
            return np.zeros((len(w), 0), np.float32), np.zeros((len(w), 0), np.int64)
        if exact_screen and len(w) > 1 and self.screen is not None and _bf16_mm_accumulates_in_fp32():
            return self._topk_bf16(w, k)
        cands = [[] for _ in w]
        screen = exact_screen and self.dtype == "float16" and len(w) == 1 and _fp16_mv_accumulates_in_fp32()
        for s in range(0, self.n, SPAN):
            e = min(self.n, s + SPAN)
            if screen:
                idx = self._screen(w[0], s, e, k)
                sc = self.exact_scores(w, idx)
                cands[0].append((sc[0], idx))
                continue
            sc = self.scores(w, s, e)
            kk = min(k, e - s)  # the k-th largest of every row, by the library that made the scores
            if self.dtype == "float32":  # (numpy's BLAS and torch's threads must not spin against each other)
                kth = np.partition(sc, sc.shape[1] - kk, axis=1)[:, sc.shape[1] - kk]
            else:
                kth = torch.topk(torch.from_numpy(sc), kk, dim=1, sorted=False).values.min(1).values.numpy()
            for qi in range(len(w)):
                keep = np.flatnonzero(sc[qi] >= kth[qi])  # every tie of the k-th, in index order
                cands[qi].append((sc[qi, keep], keep + s))
            for qi in range(len(w)):  # bound the candidates kept across spans
                cands[qi] = [_trim(cands[qi], k)]
        best = [_final(c, k) for c in cands]
        return np.stack([b[0] for b in best]), np.stack([b[1] for b in best])

    def _screen(self, w: np.ndarray, start: int, stop: int, k: int) -> np.ndarray:
        """Rows of [start, stop) that could be in this span's top-k: the fp16 kernel's scores s16 differ
        from the fp32 ones by at most e = (2^-10 + 600·2^-24)·|w|·max|x| + 2^-20 (query and output
        rounded to fp16, fp32 accumulation), and every top-k row has s16 >= kth(s16) - 2e."""
        s16 = torch.mv(self.row_block(start, stop), torch.from_numpy(w).half()).float().numpy()
        err = (2 ** -10 + 600 * 2 ** -24) * float(np.linalg.norm(w)) * self.header["max_row_norm"] + 2 ** -20
        kth = np.partition(s16, len(s16) - k)[len(s16) - k] if k < len(s16) else -np.inf
        return np.flatnonzero(s16 >= kth - 2 * err) + start


    def _topk_bf16(self, w: np.ndarray, k: int):
        """topk for a query batch through the bf16 screen, then exact re-scoring of what it cannot rule out.

        Bound: with u = 2^-8, the fp32-accumulated product a of the bf16-rounded query and rows is
        within e = (2u + u^2 + 600·2^-24(1+u)^2)·|w_q|·max|x| + 2^-20 of the exact score t, and the
        screen's output s = bf16(a) is within u'|s| of a (u' = u/(1-u)). If K is a lower bound of the
        span's k-th largest s, every row of its true top-k (ties included) has
        s >= K - 2e - 3u'(|K| + 2e) (both sides are monotone in s). K is the k-th largest of the maxima
        of blocks of BLOCK_MAX rows, which are k distinct rows' scores; only blocks whose maximum reaches
        the threshold are looked into."""
        up = BF16_U / (1 - BF16_U)
        err = ((2 * BF16_U + BF16_U ** 2 + 600 * 2 ** -24 * (1 + BF16_U) ** 2) * self.header["max_row_norm"]
               * np.linalg.norm(w, axis=1) + 2 ** -20)
        cands = [[] for _ in w]
        for g0 in range(0, len(w), QGROUP):
            wg = w[g0:g0 + QGROUP]
            wq, eq = torch.from_numpy(wg).bfloat16(), torch.from_numpy(err[g0:g0 + QGROUP]).float()
            for s in range(0, self.n, SPAN):
                e = min(self.n, s + SPAN)
                sb = torch.mm(wq, self.screen_block(s, e).t())  # (q, span) bf16, rows contiguous
                full = (e - s) // BLOCK_MAX * BLOCK_MAX
                bm = sb[:, :full].view(len(wq), -1, BLOCK_MAX).amax(2)
                if full < e - s:  # the span's last, shorter block
                    bm = torch.cat([bm, sb[:, full:].amax(1, keepdim=True)], 1)
                src = bm if bm.shape[1] >= k else sb  # (a span of fewer blocks than k: its own k-th)
                kth = torch.topk(src, min(k, src.shape[1]), dim=1, sorted=False).values.min(1).values.float()
                thr = kth - 2 * eq - 3 * up * (kth.abs() + 2 * eq)
                thr = (thr - thr.abs() * 2 ** -7 - 2 ** -100).bfloat16()  # rounded to bf16 downwards
                hq, hb = torch.nonzero(bm >= thr[:, None], as_tuple=True)  # sorted by query, then block
                cols = hb[:, None] * BLOCK_MAX + torch.arange(BLOCK_MAX)
                inside = cols < e - s
                cols = cols.clamp(max=e - s - 1)
                keep = (sb[hq[:, None], cols] >= thr[hq][:, None]) & inside
                m, off = torch.nonzero(keep, as_tuple=True)
                hit_q, hit_r = hq[m].numpy(), cols[m, off].numpy()  # rows ascending within each query
                rows, pos = np.unique(hit_r, return_inverse=True)
                exact = self.exact_scores(wg, rows + s)  # one fp32 product for the group
                bounds = np.searchsorted(hit_q, np.arange(len(wq) + 1))
                for qi in range(len(wq)):
                    a, b = bounds[qi], bounds[qi + 1]
                    cands[g0 + qi].append((exact[qi, pos[a:b]], hit_r[a:b] + s))
                    cands[g0 + qi] = [_trim(cands[g0 + qi], k)]
        best = [_final(c, k) for c in cands]
        return np.stack([b[0] for b in best]), np.stack([b[1] for b in best])


def _at_least_kth(s: np.ndarray, k: int) -> np.ndarray:
    """Positions of every score >= the k-th largest (all ties included), in index order."""
    if k >= len(s):
        return np.arange(len(s))
    kth = np.partition(s, len(s) - k)[len(s) - k]
    return np.flatnonzero(s >= kth)


def _trim(parts: list, k: int):
    s = np.concatenate([p[0] for p in parts])
    i = np.concatenate([p[1] for p in parts])
    keep = _at_least_kth(s, k)
    return s[keep], i[keep]


def _final(parts: list, k: int):
    s, i = _trim(parts, k)
    order = np.argsort(-s, kind="stable")[:k]  # candidates are in index order: ties go to the lower index
    return s[order], i[order]


_FP16_OK: bool | None = None


def _fp16_mv_accumulates_in_fp32() -> bool:
    """The screen's error bound assumes torch's fp16 matrix-vector kernel sums in fp32; check it once
    (1 + 575·2^-11 summed in fp16 stays 1.0) and fall back to the fp32-compute path if not."""
    global _FP16_OK
    if _FP16_OK is None:
        x = torch.full((1, 576), 2 ** -11, dtype=torch.float16)
        x[0, 0] = 1
        _FP16_OK = abs(torch.mv(x, torch.ones(576, dtype=torch.float16)).item() - (1 + 575 * 2 ** -11)) < 2 ** -9
    return _FP16_OK


_BF16_OK: bool | None = None


def _bf16_mm_accumulates_in_fp32() -> bool:
    """The batch screen's bound assumes the bf16 matrix product sums in fp32 (1 + 575·2^-9 summed in
    bf16 stays 1.0); check it once, on a product shaped like the screen's, else use the fp32 path."""
    global _BF16_OK
    if _BF16_OK is None:
        x = torch.full((QGROUP, 576), 2 ** -9, dtype=torch.bfloat16)
        x[:, 0] = 1
        got = torch.mm(x, torch.ones(4096, 576, dtype=torch.bfloat16).t()).float()
        _BF16_OK = bool(((got - (1 + 575 * 2 ** -9)).abs() < 2 ** -5).all())
    return _BF16_OK


# ---------------------------------------------------------------------- faiss (optional)
def _faiss():
    try:
        import faiss
    except ImportError:
        raise GlalignError("--index faiss needs the faiss library: install it with "
                           "`.venv/bin/pip install faiss-cpu==1.15.1` (or use --index exact)") from None
    return faiss


def faiss_path(index: FusedIndex, nlist: int) -> Path:
    return index.path.with_name(f"{index.path.name}.{content_key(index.header, n=12)}.ivf{nlist}.faiss")


def default_nlist(n: int) -> int:
    return int(min(4096, max(1, round(np.sqrt(n)))))


def open_faiss(index: FusedIndex, nlist: int | None = None, progress: bool = False):
    """The IVF (inner product, 8-bit scalar quantised) index over the rows, built and saved beside the
    index file on first use; named by a digest of the index header, so it never outlives its rows."""
    from tqdm.auto import tqdm

    from glalign.io import atomic_path

    faiss = _faiss()
    nlist = nlist or default_nlist(index.n)
    path = faiss_path(index, nlist)
    if path.exists():
        try:
            ivf = faiss.read_index(str(path))
            if ivf.ntotal == index.n and ivf.d == index.rows.shape[1]:
                return ivf
        except RuntimeError:
            pass  # corrupt: rebuilt below
    for old in path.parent.glob(f"{index.path.name}.*.faiss"):
        old.unlink(missing_ok=True)
    d = index.rows.shape[1]
    ivf = faiss.index_factory(d, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(index.n, size=min(index.n, 40 * nlist), replace=False))
    ivf.train(np.ascontiguousarray(index.rows[train], dtype=np.float32))
    for s in tqdm(range(0, index.n, SPAN), desc="faiss index", disable=not progress, leave=False):
        ivf.add(np.ascontiguousarray(index.rows[s:s + SPAN], dtype=np.float32))
    with atomic_path(path) as tmp:
        faiss.write_index(ivf, str(tmp))
    return ivf


def faiss_topk(index: FusedIndex, ivf, w: np.ndarray, k: int, nprobe: int = 32, candidates: int | None = None):
    """Approximate: the IVF proposes candidates, which are re-ranked by their exact fp32 fused score."""
    ivf.nprobe = nprobe
    kc = min(index.n, candidates or max(10 * k, 100))
    _, ids = ivf.search(np.ascontiguousarray(w, dtype=np.float32), kc)
    out_s, out_i = [], []
    for qi, row in enumerate(ids):
        cand = np.unique(row[row >= 0])
        s = index.exact_scores(w[qi:qi + 1], cand)[0]
        order = np.argsort(-s, kind="stable")[:min(k, index.n)]
        out_s.append(s[order])
        out_i.append(cand[order])
    return np.stack(out_s), np.stack(out_i)

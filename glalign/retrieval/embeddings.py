"""Embeddings of a gallery (images, their part regions) and of caption queries (the caption, its part
phrases; or, for the RSM arm, its sentences routed to regions), encoded in batches and shared out
over the processes torchrun started."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from glalign.constants import PARTS


@dataclass
class GalleryEmbeddings:
    global_: torch.Tensor         # (G, d)
    regions: torch.Tensor         # (G, 5, d)
    present: torch.Tensor         # (G, 5) bool


@dataclass
class QueryEmbeddings:
    global_: torch.Tensor         # (Q, d)
    phrases: torch.Tensor         # (Q, 5, d)
    present: torch.Tensor         # (Q, 5) bool


@torch.no_grad()
def encode_gallery(model, images: list, store, region_mode: str, batch_size: int = 128,
                   progress: bool = True) -> GalleryEmbeddings:
    """`images` are objects with .image and .mask (records)."""
    from glalign.data.torchdata import collate_images, image_item

    device = model.logit_scale.device
    outs_g, outs_r, outs_p = [], [], []
    for start in tqdm(range(0, len(images), batch_size), desc="gallery", unit="batch", disable=not progress,
                      leave=False):
        batch = collate_images([image_item(store, r, False, region_mode) for r in images[start:start + batch_size]])
        batch = {k: v.to(device) for k, v in batch.items()}
        g, reg = model.encode_image(batch["pixels"], batch.get("weights"), batch.get("crops"), batch["present"])
        outs_g.append(g.float().cpu())
        outs_r.append(reg.float().cpu())
        outs_p.append(batch["present"].cpu())
    return GalleryEmbeddings(torch.cat(outs_g), torch.cat(outs_r), torch.cat(outs_p))


@torch.no_grad()
def encode_queries(model, tokenizer, captions: list[str], phrase_dicts: list[dict], max_length: int,
                   text_view=None, batch_size: int = 256, progress: bool = True, lang: str = "en") -> QueryEmbeddings:
    """Global and part-phrase embeddings of the queries. A caption longer than max_length tokens is
    read whole, sentence chunk by chunk and pooled (glalign.text.longtext), never cut silently."""
    from glalign.data.torchdata import tokenize_phrases
    from glalign.text.longtext import encode_whole, warn_if_cut

    device = model.logit_scale.device
    view = text_view or (lambda t: t)
    outs_g, outs_p, outs_pr = [], [], []
    for start in tqdm(range(0, len(captions), batch_size), desc="queries", unit="batch", disable=not progress,
                      leave=False):
        caps = captions[start:start + batch_size]
        g = encode_whole(caps, tokenizer, max_length, lambda ids, mask: model.encode_text(ids.to(device), mask.to(device)),
                         lang, text_view, batch=batch_size, where="query").to(device)
        part_texts = [view(v) for d in phrase_dicts[start:start + batch_size] for v in d.values()]
        warn_if_cut(part_texts, tokenizer, max_length, "part phrase(s) of the queries")
        ph = tokenize_phrases(phrase_dicts[start:start + batch_size], tokenizer, max_length, text_view)
        if "phrase_ids" in ph:
            emb = model.encode_phrases(ph["phrase_ids"].to(device), ph["phrase_mask"].to(device),
                                       ph["phrase_slots"].to(device), len(caps))
        else:
            emb = torch.zeros(len(caps), len(PARTS), g.shape[1], device=device)
        outs_g.append(g.float().cpu())
        outs_p.append(emb.float().cpu())
        outs_pr.append(ph["phrase_present"])
    return QueryEmbeddings(torch.cat(outs_g), torch.cat(outs_p), torch.cat(outs_pr))


@dataclass
class UnitEmbeddings:
    units: torch.Tensor           # (U, d) local-branch embeddings of the queries' sentences
    owner: torch.Tensor           # (U,) the query each unit belongs to (absolute index)


def query_units(captions: list[str], lang: str) -> tuple[list[str], np.ndarray]:
    """The units best-region routing scores: each caption's sentences (glalign.rsm.split_many:
    spaCy's rule-based sentencizer, underthesea's sent_tokenize; no keyword list), a caption
    with none kept whole; and the caption index of each."""
    from glalign.text.sentences import split_many

    units, owner = [], []
    for i, (caption, sentences) in enumerate(zip(captions, split_many(captions, lang))):
        for s in sentences or [caption]:
            units.append(s)
            owner.append(i)
    return units, np.asarray(owner, dtype=np.int64)


@torch.no_grad()
def encode_units(model, tokenizer, captions: list[str], max_length: int, kind: str, lang: str, offset: int = 0,
                 batch_size: int = 256) -> UnitEmbeddings:
    """Local-branch (phrase head) embeddings of the captions' sentences, the units a
    best-region run was trained on; owner indices start at `offset` (a shard's first query)."""
    from glalign.model.factory import text_view_for
    from glalign.text.longtext import encode_whole

    device = model.logit_scale.device
    units, owner = query_units(captions, lang)
    emb = encode_whole(units, tokenizer, max_length,
                       lambda ids, mask: model.encode_phrase_text(ids.to(device), mask.to(device)), lang,
                       text_view_for(kind, lang, units), batch=batch_size, where="query unit")
    return UnitEmbeddings(emb.float().cpu(), torch.as_tensor(owner + offset))


def best_region_similarity(u: UnitEmbeddings, g: GalleryEmbeddings, queries: slice, n_queries: int,
                           block: int = 20_000_000) -> torch.Tensor:
    """(Q, G) for the queries in `queries` (a slice of n_queries): per query and image, the mean over
    the query's units of max over the image's present regions of cos(unit, region); 0 where the
    image has no present region. The test-time counterpart of RSM: a unit goes to the region the
    model finds most like it, decided per image (a sentence about shoes finds the shoes of every
    image), with no keyword list. The max is the assignment relaxed: mining assigns one-to-one,
    which would be one assignment per query and image; here each unit picks its region alone."""
    start, stop, _ = queries.indices(n_queries)
    sel = torch.nonzero((u.owner >= start) & (u.owner < stop)).flatten()
    regions, present = g.regions, g.present
    total = torch.zeros(stop - start, len(regions))
    step = max(1, block // max(1, regions.shape[0] * regions.shape[1]))
    for i in range(0, len(sel), step):
        rows = sel[i:i + step]
        sim = torch.einsum("ud,gpd->ugp", u.units[rows], regions).masked_fill(~present[None], -torch.inf)
        best = sim.amax(-1)
        best = torch.where(torch.isfinite(best), best, torch.zeros(()))  # no present region: 0
        total.index_add_(0, u.owner[rows] - start, best)
    counts = torch.bincount(u.owner[sel] - start, minlength=stop - start).clamp(min=1)
    return total / counts[:, None].float()


def part_prototypes(g: GalleryEmbeddings) -> tuple[torch.Tensor, torch.Tensor]:
    """(5, d) the normalised mean of the gallery's present regions of each part, and (5,) whether
    the part has any: what a part looks like to the model, from the images alone (no label)."""
    w = g.present.float()
    total = torch.einsum("gp,gpd->pd", w, g.regions)
    return torch.nn.functional.normalize(total, dim=-1), w.sum(0) > 0


def prototype_routed(u: UnitEmbeddings, g: GalleryEmbeddings, n_queries: int) -> QueryEmbeddings:
    """Part phrases of the queries from their units, routed by the model: each unit goes to the
    part whose prototype (part_prototypes) it is most similar to, and a query's phrase for a part
    is the normalised mean of its units routed there. Global embeddings are left empty (zeros)."""
    protos, has = part_prototypes(g)
    sim = (u.units @ protos.t()).masked_fill(~has[None], -torch.inf)
    part = sim.argmax(1)
    d = u.units.shape[1]
    phrases = torch.zeros(n_queries, len(PARTS), d).index_put_((u.owner, part), u.units, accumulate=True)
    present = torch.zeros(n_queries, len(PARTS), dtype=torch.bool)
    present[u.owner, part] = True
    return QueryEmbeddings(torch.zeros(n_queries, d), torch.nn.functional.normalize(phrases, dim=-1), present)


def sharded(n: int, encode):
    """encode(slice) over n items, split over the processes torchrun started: each encodes its
    contiguous share and the shares are gathered back in order on every process, so what follows
    (ranking, RankAccumulator) sees exactly what one process encoding everything sees. One
    process, or fewer items than processes: encode(slice(0, n))."""
    import dataclasses

    import torch.distributed as dist

    from glalign import distributed

    if not distributed.active() or n < dist.get_world_size():
        return encode(slice(0, n))
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = encode(slice(rank * n // world, (rank + 1) * n // world))
    shares = [None] * world
    dist.all_gather_object(shares, mine)
    return type(mine)(*(torch.cat([getattr(x, f.name) for x in shares]) for f in dataclasses.fields(mine)))

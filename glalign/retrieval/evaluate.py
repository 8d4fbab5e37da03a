"""Evaluation: encode the gallery (unique images) once and every caption query, fuse global and local
similarities, rank, and keep per-query results so any two systems compare query by query.

fused = alpha * cos_global + (1 - alpha) * local, where local depends on the run's phrase_routing:
- "lexicon" (GLAlign): the mean over the query's parts of cos(phrase_p, region_p), the part phrases
  joined by the keyword lexicon; a part the gallery image lacks contributes 0 (it cannot vouch for
  the phrase);
- "best-region" (ROGLE's arm, runs trained on mined region-sentence pairs): the mean over the
  query's sentences of the best cos(sentence, region) among the image's present regions (0 for an
  image with none). No keyword list: the model's own similarity decides, per image, which region a
  sentence is about, as RSM's assignment decides it when mining (best_region_similarity says why);
- "part-prototype", the alternative best-region was chosen over on validation: each sentence goes
  once to the part whose prototype (the gallery's mean region of that part) it is closest to, and
  is then scored as a lexicon phrase of that part is (prototype_routed)."""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glalign.errors import GlalignError
from glalign.retrieval.embeddings import (QueryEmbeddings, best_region_similarity, encode_gallery, encode_queries,
                                          encode_units, prototype_routed, sharded)
from glalign.retrieval.fusion import check_fusion, combine, local_similarity
from glalign.retrieval.ranking import per_query_table, rank_queries
from glalign.retrieval.ranking import refuse_non_finite_scores  # noqa: F401  (its old home)

# names that lived here before the split, for `from glalign.evaluate import ...` (one release)
from glalign.retrieval.embeddings import (  # noqa: E402,F401
    GalleryEmbeddings, UnitEmbeddings, encode_units, part_prototypes, query_units,
)
from glalign.retrieval.fusion import FUSIONS, fuse, mix, standardise_rows  # noqa: E402,F401


FULL_MATRIX_LIMIT = 50_000_000  # queries x gallery entries kept whole (for alpha re-fusion); above: chunked


EVAL_CHUNK = 512


@dataclass
class EvalResult:
    metrics: dict
    per_query: pd.DataFrame
    global_sim: np.ndarray | None  # None for large galleries (evaluated in chunks)
    local_sim: np.ndarray | None
    query_pids: np.ndarray
    gallery_pids: np.ndarray
    gallery_paths: list[str]
    alpha: float

    @property
    def n_queries(self) -> int:
        return len(self.per_query)

    def fused(self, alpha: float, fusion: str = "raw") -> np.ndarray:
        """raw: the paper's alpha * global + (1 - alpha) * local. zscore: each score standardised
        over the gallery per query first, so alpha weighs two scores of equal spread (the global
        cosine spreads wider than the local one, so raw alpha = 0.5 favours it; notebook 06 prints both
        spreads)."""
        if self.global_sim is None:
            raise GlalignError("this evaluation ran in chunks (large gallery) and kept no similarity matrix; "
                               "evaluate again with the alpha you want")
        return combine(alpha, self.global_sim, self.local_sim, fusion)


def evaluate(model, tokenizer, cfg, records, lang: str, alpha: float | None = None, lexicon_mode: str | None = None,
             cache_dir=None, progress: bool = True, fusion: str = "raw", gallery_cache: dict | None = None) -> EvalResult:
    """Rank every caption of `records` against their unique images (scores fused by `combine`).
    gallery_cache: a dict kept by the caller for one model, where the gallery's embeddings are
    kept by the images (and masks) they come from, so the same images queried again (short,
    then long captions) are encoded once."""
    from glalign.model.processing import text_view_for

    if not records:
        raise GlalignError("nothing to evaluate: the selected split has no entries")
    alpha = cfg.alpha if alpha is None else alpha
    check_fusion(fusion)  # before any encoding
    gallery = _gallery(model, cfg, records, progress, gallery_cache)
    captions = [c for r in records for c in r.captions]
    q_pids = np.array([r.pid for r in records for _ in r.captions], dtype=object)
    g_pids = np.array([r.pid for r in records], dtype=object)
    routing = getattr(cfg, "phrase_routing", "lexicon")
    phrase_dicts = _phrase_dicts(routing, captions, lang, lexicon_mode or cfg.lexicon_mode, cache_dir)
    view = text_view_for(cfg.text_kind, lang, captions)
    queries = sharded(len(captions), lambda sl: encode_queries(model, tokenizer, captions[sl], phrase_dicts[sl],
                                                               cfg.max_length, view, progress=progress,
                                                               lang=lang))
    units = None if routing == "lexicon" else sharded(
        len(captions), lambda sl: encode_units(model, tokenizer, captions[sl], cfg.max_length, cfg.text_kind, lang,
                                               offset=sl.indices(len(captions))[0]))

    routed = prototype_routed(units, gallery, len(captions)) if routing == "part-prototype" else None

    def local_rows(sl, q: QueryEmbeddings) -> np.ndarray:
        if units is None:
            return local_similarity(q, gallery).numpy()
        if routed is not None:
            r = QueryEmbeddings(q.global_, routed.phrases[sl], routed.present[sl])
            return local_similarity(r, gallery).numpy()
        return best_region_similarity(units, gallery, sl, len(captions)).numpy()

    if len(captions) * len(records) <= FULL_MATRIX_LIMIT:  # keep both matrices, so alpha can be re-fused
        gsim = (queries.global_ @ gallery.global_.t()).numpy()
        lsim = local_rows(slice(0, len(captions)), queries)
        rows = lambda sl: combine(alpha, gsim[sl], lsim[sl], fusion)  # noqa: E731
    else:  # a large gallery: one chunk of queries at a time, only the top-k kept
        gsim = lsim = None

        def rows(sl):
            q = QueryEmbeddings(queries.global_[sl], queries.phrases[sl], queries.present[sl])
            return combine(alpha, (q.global_ @ gallery.global_.t()).numpy(), local_rows(sl, q), fusion)
    metrics, first, top, score_top1 = rank_queries(rows, captions, q_pids, g_pids, EVAL_CHUNK)
    per_query = per_query_table(records, captions, q_pids, g_pids, queries, first, top, score_top1, units)
    return EvalResult(metrics=metrics, per_query=per_query, global_sim=gsim, local_sim=lsim, query_pids=q_pids,
                      gallery_pids=g_pids, gallery_paths=[r.file_path for r in records], alpha=alpha)


def _gallery(model, cfg, records, progress: bool, gallery_cache: dict | None):
    """The gallery's embeddings, or the cached ones of the same images (and masks)."""
    from glalign.model.factory import image_store_for

    store = image_store_for(model)
    gkey = (cfg.region_mode, tuple((str(r.image), str(r.mask)) for r in records))
    if gallery_cache is not None and gkey in gallery_cache:
        return gallery_cache[gkey]
    gallery = sharded(len(records), lambda sl: encode_gallery(model, records[sl], store, cfg.region_mode,
                                                              progress=progress))
    if gallery_cache is not None:
        gallery_cache.clear()  # the last gallery only
        gallery_cache[gkey] = gallery
    return gallery


def _phrase_dicts(routing: str, captions: list[str], lang: str, mode: str, cache_dir) -> list[dict]:
    """Each caption's part phrases by the keyword lexicon; none for best-region routing (its units
    are the captions' sentences, encode_units)."""
    from glalign.text.phrases import cached_extract, extract, part_phrases

    if routing != "lexicon":
        return [{} for _ in captions]
    extracted = cached_extract(captions, lang, mode, cache_dir) if cache_dir else extract(captions, lang, mode)
    return [part_phrases(p) for p in extracted]


def validation_scores(model, tokenizer, records, lang: str, alpha: float, cache_dir=None) -> dict:
    """Rank-1 (%) on validation records, fused at the training alpha and per branch: what a run
    chooses its epoch by (the test split is never read during training)."""
    from glalign.retrieval.metrics import rank_metrics

    was_training = model.training
    model.eval()
    try:
        res = evaluate(model, tokenizer, model.config, records, lang, alpha, cache_dir=cache_dir, progress=False)
    finally:
        model.train(was_training)
    branch = {name: rank_metrics(sim, res.query_pids, res.gallery_pids)["R1"]
              for name, sim in (("global", res.global_sim), ("local", res.local_sim)) if sim is not None}
    return {"val_R1": res.metrics["R1"], **{f"val_R1_{k}": v for k, v in branch.items()},
            "val_queries": res.n_queries}


def select_records(root, lang: str, split: str = "test", fmt: str = "auto", ids=None, masks: str = "parsing"):
    """The evaluation records of a dataset: a split ('all' for every split) and optionally a subset of ids."""
    from glalign.data.records import load_dataset

    ds = load_dataset(root, fmt=fmt, lang=lang, check_images=False, masks=masks)
    recs = ds.records if split == "all" else ds.split(split)
    if not recs:
        raise GlalignError(f"{root}: no entries in split {split!r}")
    if ids is not None:
        wanted = set(ids)
        recs = [r for r in recs if r.pid in wanted]
    return recs


def evaluate_run(run, data, split: str = "test", alpha: float | None = None, fmt: str = "auto",
                 lang: str | None = None, per_query_out=None, ids=None, progress: bool = True,
                 device: str = "cpu", image_encoder: str | None = None, text_encoder: str | None = None,
                 masks: str = "parsing", queries: str = "short", fusion: str = "raw", loaded=None) -> EvalResult:
    """Evaluate a trained run, or (run None) pretrained encoders zero-shot, with no fine-tuning.
    queries: the dataset's captions (short), or the long-form captions of regions.json (long).
    loaded: (model, tokenizer, config, gallery_cache) of `run` already loaded by the caller
    (Workspace.evaluate keeps the last run's), so a run scored twice loads and encodes its
    gallery once."""
    from glalign.io import write_csv
    from glalign.model.factory import load_run, zero_shot
    from glalign.data.formats import dataset_cache_dir

    if per_query_out and Path(per_query_out).is_dir():
        raise GlalignError(f"--per-query {per_query_out} is a folder; give a CSV file name, e.g. "
                           f"{Path(per_query_out) / 'per_query.csv'}")
    from glalign import distributed

    if distributed.env_world_size() > 1:  # started by torchrun: encoding is shared out (sharded)
        device = str(distributed.init(device).device)
        progress = progress and distributed.is_main()
    gallery_cache = None
    if run is not None and loaded is not None:
        model, tokenizer, cfg, gallery_cache = loaded
    elif run is not None:
        if image_encoder or text_encoder:
            raise GlalignError("give either --run, or --image-encoder and --text-encoder (zero-shot), not both")
        model, tokenizer, cfg = load_run(run, device=device)
    elif image_encoder and text_encoder:
        model, tokenizer, cfg = zero_shot(image_encoder, text_encoder, lang or "en", 1.0 if alpha is None else alpha,
                                          device=device)
    else:
        raise GlalignError("nothing to evaluate: give --run RUN, or --image-encoder and --text-encoder for zero-shot")
    lang = lang or cfg.lang
    records = select_records(data, lang, split, fmt, ids, masks)
    if queries == "long":
        from glalign.data.regions import with_long_captions

        records = with_long_captions(records, data, lang)
    elif queries != "short":
        raise GlalignError(f"unknown queries {queries!r}; choose short or long")
    result = evaluate(model, tokenizer, cfg, records, lang, alpha, cache_dir=dataset_cache_dir(data),
                      progress=progress, fusion=fusion, gallery_cache=gallery_cache)
    if per_query_out and distributed.is_main():
        write_csv(Path(per_query_out), result.per_query)
    return result


class _CallableModule(types.ModuleType):
    """`glalign.evaluate(run, data, ...)` is `evaluate_run`: the public API's verb, while this module
    stays importable at its path (glalign.evaluate.evaluate_run, DESIGN.md section 5)."""

    def __call__(self, *args, **kwargs) -> EvalResult:
        return evaluate_run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

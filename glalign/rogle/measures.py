"""The local protocol's measures, each beside its chance and a text-only baseline: a sentence
retrieving regions of its part (by identity or by attribute), grounding its region within its own
image, and beating attribute foils (its colour or garment type swapped)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from glalign.constants import PARTS
from glalign.retrieval.metrics import first_correct_rank, rank_metrics


TESTS = ("retrieval (identity)", "retrieval (attribute)", "grounding", "foil (colour)", "foil (type)")
RANK_KEYS = ("R1", "R5", "R10", "mAP")


FOIL_KINDS = ("colour", "type")
ROW_COLUMNS = ("test", "metric", "part", "value", "chance", "text_only", "n")


def ids_to_ints(region_ids, sentence_targets) -> tuple[np.ndarray, np.ndarray]:
    """Any hashable ids (tuples included) as ints; a target not in the gallery is an error."""
    index = {}
    for rid in region_ids:
        if rid in index:
            raise ValueError(f"region id {rid!r} occurs twice in the gallery")
        index[rid] = len(index)
    missing = [t for t in sentence_targets if t not in index]
    if missing:
        raise ValueError(f"sentence target {missing[0]!r} is not a gallery region")
    return np.arange(len(index)), np.array([index[t] for t in sentence_targets])


def cosine(a, b) -> np.ndarray:
    a = F.normalize(torch.as_tensor(np.asarray(a), dtype=torch.float32), dim=-1)
    b = F.normalize(torch.as_tensor(np.asarray(b), dtype=torch.float32), dim=-1)
    return (a @ b.T).numpy()


def region_retrieval(sentence_emb, sentence_targets, region_emb, region_ids) -> dict:
    """R1, R5, R10, mAP (percent) of sentences (Q, d) retrieving their one region among all
    gallery regions (G, d); sentence_targets[i] is the id (e.g. (file_path, part)) of the region
    sentence i describes, region_ids the gallery regions' ids."""
    g, q = ids_to_ints(list(region_ids), list(sentence_targets))
    m = rank_metrics(cosine(sentence_emb, region_emb), q, g)
    return {k: m[k] for k in RANK_KEYS}


def grounding_correct(sim: np.ndarray, q: np.ndarray, g: np.ndarray, images: np.ndarray) -> np.ndarray:
    sim = sim.copy()
    sim[images[None, :] != images[q][:, None]] = -np.inf  # the right image is given
    return first_correct_rank(sim, q, g)[0] == 1


def grounding_accuracy(sentence_emb, sentence_targets, region_emb, region_ids, region_images) -> float:
    """Percent of sentences that, among the regions of their target's image only, are most
    similar to their target region. region_images[j] is the image of gallery region j."""
    g, q = ids_to_ints(list(region_ids), list(sentence_targets))
    images = np.asarray([str(i) for i in region_images])
    return float(grounding_correct(cosine(sentence_emb, region_emb), q, g, images).mean() * 100)


def chance_rank_metrics(n_relevant, gallery_size) -> dict[str, np.ndarray]:
    """Per query, the expected R1/R5/R10/mAP (percent) of a uniformly random order of a gallery
    of `gallery_size` items of which `n_relevant` (>= 1) are relevant. R@K = 1 - C(G-n, K)/C(G, K)
    (K capped at G, as rank_metrics caps it); E[AP] = (H_G + (n-1)/(G-1) (G - H_G)) / G, H_G the
    harmonic number: a relevant item at rank r (uniform) has (n-1)(r-1)/(G-1) others above it."""
    from scipy.special import digamma

    n, g = np.asarray(n_relevant, float), np.asarray(gallery_size, float)
    if (n < 1).any() or (n > g).any():
        raise ValueError("every query needs 1 <= relevant items <= gallery size")
    out = {}
    for key, k in (("R1", 1), ("R5", 5), ("R10", 10)):
        miss = np.ones_like(g)
        for i in range(k):
            miss *= np.where(i < g, np.clip(g - n - i, 0, None) / np.maximum(g - i, 1), 0.0)
        out[key] = 100 * (1 - miss)
    harmonic = digamma(g + 1) + np.euler_gamma
    others = np.where(g > 1, (n - 1) / np.maximum(g - 1, 1), 0.0)
    out["mAP"] = 100 * (harmonic + others * (g - harmonic)) / g
    return out


def part_conditioned_retrieval(sentence_emb, query_parts, query_labels, region_emb, region_parts,
                               region_labels) -> dict[str, dict]:
    """Per part: queries of that part rank the gallery regions of that part; relevant are regions
    whose label equals the query's (a person id for identity relevance, an attribute key for
    attribute relevance). A label None (unknown) leaves the query or region out. Returns
    {part: {"n": queries, "value": {R1..mAP}, "chance": {R1..mAP}}} (value/chance None when n = 0)."""
    sim = cosine(sentence_emb, region_emb)
    q_parts, r_parts = np.asarray(query_parts, object), np.asarray(region_parts, object)
    q_known = np.array([x is not None for x in query_labels], bool)
    r_known = np.array([x is not None for x in region_labels], bool)
    out = {}
    for part in PARTS:
        qi = np.flatnonzero((q_parts == part) & q_known)
        gi = np.flatnonzero((r_parts == part) & r_known)
        if not len(qi):
            out[part] = {"n": 0, "value": None, "chance": None}
            continue
        codes = {}
        g_lab = np.array([codes.setdefault(region_labels[j], len(codes)) for j in gi])
        q_lab = np.array([codes.get(query_labels[i], -1) for i in qi])
        m = rank_metrics(sim[np.ix_(qi, gi)], q_lab, g_lab)  # a label with no gallery region raises
        n_rel = (g_lab[None, :] == q_lab[:, None]).sum(1)
        chance = chance_rank_metrics(n_rel, np.full(len(qi), len(gi)))
        out[part] = {"n": len(qi), "value": {k: float(m[k]) for k in RANK_KEYS},
                     "chance": {k: float(chance[k].mean()) for k in RANK_KEYS}}
    return out


def make_foils(texts: list[str], words: list[tuple], parts: list[str], kind: str, seed: int = 0
               ) -> list[tuple[str, str, str] | None]:
    """Per sentence, (foil text, true word, foil word) with its first `kind` word swapped, or None
    (no such word, or no candidate). Candidates are the words of that kind the sentences use
    (types: sentences of the same part) that name none of this sentence's `kind` values, are not
    in it already and are not this word; one is drawn per sentence (seeded), in proportion to how
    often the sentences use it, so that true and foil words come from one distribution and a
    word-frequency prior cannot tell them apart beyond chance."""
    from glalign.data.regions import word_span

    names: dict[tuple, dict[str, set]] = {}  # vocabulary scope -> word -> the values it names
    uses: Counter = Counter()
    for ws, part in zip(words, parts):
        for k, w, v in ws:
            if k == kind:
                names.setdefault(part if kind == "type" else None, {}).setdefault(w, set()).add(v)
                uses[w] += 1
    rng = np.random.default_rng(seed)
    out = []
    for text, ws, part in zip(texts, words, parts):
        mine = [(w, v) for k, w, v in ws if k == kind]
        if not mine:
            out.append(None)
            continue
        values = {v for _, v in mine}
        vocab = names.get(part if kind == "type" else None, {})
        cands = sorted(w for w, vs in vocab.items() if not vs & values and word_span(text, w) is None)
        if not cands:
            out.append(None)
            continue
        p = np.array([uses[w] for w in cands], float)
        true, foil = mine[0][0], cands[int(rng.choice(len(cands), p=p / p.sum()))]
        a, b = word_span(text, true)
        out.append((text[:a] + foil + text[b:], true, foil))
    return out


def part_rows(test: str, metrics: tuple[str, ...], by_part: dict[str, dict]) -> list[dict]:
    """Rows per part and over all parts (query-weighted, i.e. pooled over queries)."""
    rows = []
    total = sum(d["n"] for d in by_part.values())
    for part in (*PARTS, "all"):
        for m in metrics:
            if part == "all":
                if not total:
                    vals = (None, None, None)
                else:
                    vals = tuple(sum(d["n"] * d[f][m] for d in by_part.values() if d["n"]) / total
                                 for f in ("value", "chance", "text_only"))
                n = total
            else:
                d = by_part[part]
                n = d["n"]
                vals = (None, None, None) if not n else (d["value"][m], d["chance"][m], d["text_only"][m])
            rows.append(dict(zip(ROW_COLUMNS, (test, m, part, *vals, n))))
    return rows


def by_part_means(query_parts, **columns) -> dict[str, dict]:
    """{part: {"n", "value": {"accuracy"}, "chance": ..., "text_only": ...}} from per-query arrays (0-1)."""
    q = np.asarray(query_parts, object)
    out = {}
    for part in PARTS:
        sel = q == part
        n = int(sel.sum())
        out[part] = {"n": n, **{k: ({"accuracy": float(np.mean(v[sel]) * 100)} if n else None)
                                for k, v in columns.items()}}
    return out


def local_tests(sentence_emb, queries: dict, region_emb, regions: dict, encode, keyword, seed: int = 0
                ) -> list[dict]:
    """Every test of the module docstring, as rows (test, metric, part, value, chance, text_only, n).

    queries: per query "image", "part", "pid", "attributes" (hashable or None), "words" (tuples
    (kind, word, value)), "text"; regions: per present gallery region "image", "part", "pid",
    "attributes". encode(texts) -> (N, d) embeds foils in the space of sentence_emb; keyword(texts)
    -> part or None per text (the keyword lexicon) for the text-only grounding baseline."""
    rows = []
    q_part = queries["part"]
    for test, key in (("retrieval (identity)", "pid"), ("retrieval (attribute)", "attributes")):
        by_part = part_conditioned_retrieval(sentence_emb, q_part, queries[key], region_emb, regions["part"],
                                             regions[key])
        for d in by_part.values():
            d["text_only"] = d["chance"]  # one part's gallery: a text-only scorer ties every region
        rows += part_rows(test, RANK_KEYS, by_part)
    # grounding, given the image
    targets = list(zip(queries["image"], q_part))
    g, q = ids_to_ints(list(zip(regions["image"], regions["part"])), targets)
    images = np.asarray([str(i) for i in regions["image"]])
    correct = grounding_correct(cosine(sentence_emb, region_emb), q, g, images).astype(float)
    parts_of = {}
    for img, part in zip(regions["image"], regions["part"]):
        parts_of.setdefault(str(img), set()).add(part)
    here = [parts_of[str(i)] for i in queries["image"]]
    chance = np.array([1 / len(h) for h in here])
    kw = keyword(queries["text"])
    text_only = np.array([(k == p) if k in h else 1 / len(h) for k, p, h in zip(kw, q_part, here)], float)
    rows += part_rows("grounding", ("accuracy",), by_part_means(q_part, value=correct, chance=chance,
                                                                text_only=text_only))
    # attribute foils: is the true sentence closer to its region than the foil?
    target_emb = F.normalize(torch.as_tensor(np.asarray(region_emb), dtype=torch.float32)[torch.as_tensor(q)], dim=-1)
    true_emb = F.normalize(torch.as_tensor(np.asarray(sentence_emb), dtype=torch.float32), dim=-1)
    for kind in FOIL_KINDS:
        foils = make_foils(queries["text"], queries["words"], q_part, kind, seed)
        idx = [i for i, f in enumerate(foils) if f is not None]
        value = np.zeros(len(idx))
        if idx:
            foil_emb = F.normalize(torch.as_tensor(np.asarray(encode([foils[i][0] for i in idx])),
                                                   dtype=torch.float32), dim=-1)
            t = (target_emb[idx] * true_emb[idx]).sum(-1).numpy()
            f = (target_emb[idx] * foil_emb).sum(-1).numpy()
            value = np.where(t > f, 1.0, np.where(t == f, 0.5, 0.0))
        freq = Counter(w for ws in queries["words"] for k, w, _ in ws if k == kind)
        prior = np.array([1.0 if freq[foils[i][1]] > freq[foils[i][2]] else
                          0.5 if freq[foils[i][1]] == freq[foils[i][2]] else 0.0 for i in idx])
        rows += part_rows(f"foil ({kind})", ("accuracy",),
                      by_part_means([q_part[i] for i in idx], value=value, chance=np.full(len(idx), 0.5),
                                     text_only=prior))
    return rows

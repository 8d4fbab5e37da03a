"""Retrieval: what a trained model's embeddings become. embeddings of a gallery and of caption
queries (evaluate), the one score fusion (fusion: raw alpha-mix or per-query z-scores), ranking
metrics as IRRA computes them (metrics), paired statistics (stats: McNemar, bootstrap), the
memory-mapped fused index (index) and the gallery search built on it (search). It reads models
and data, never the training loop."""

"""Encoders (CLIP ViT; CLIP text, GPT-2, PhoBERT), the GLAlign module and its losses."""

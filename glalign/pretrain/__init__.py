"""Pretraining, a training-stage package: the embedded default's own "pretrained" transformers
(SynthCLIP, SynthPhoBERT, SynthParser, and the distilled Vietnamese judge of ROGLE) trained on a
synthetic corpus disjoint from the SynthPEDES domains and saved as real checkpoints are saved, so
they load exactly as openai/clip-vit-base-patch32, vinai/phobert-base or a clothes-parsing SegFormer
do; the shipped set and its manifest (ship); one optimisation step shared by all (common)."""

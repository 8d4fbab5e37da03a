"""Pretraining the embedded default's own "pretrained" transformers (SynthCLIP, SynthPhoBERT) on a
synthetic corpus disjoint from the SynthPEDES domains, saved as real checkpoints are saved."""

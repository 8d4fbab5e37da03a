"""Training: turning data and a model into a run folder. run folders and their checkpoints written
so no crash loses an epoch (checkpoint), and the epoch chosen on validation, never on the test
split (selection). The training settings and the loop join it; pretraining of the stand-ins
(SynthCLIP, SynthPhoBERT, SynthParser) lives beside it in glalign.pretrain."""

"""Datasets, the lowest stage above the base: what a person-search dataset is on disk and how it is
read. Layouts and raw entries (formats), the one image-reading rule (images), caption language
(language), validated records and splits (records), part label maps and their geometry (masks),
ROGLE's region annotations (regions), the SynthPEDES generator (synth, synth_people, synth_render,
mentions, captions_en/_vi, translate, synth_longform with longform_sentences/_frames), and the
torch datasets and image caches training reads (torchdata, image_cache). It imports nothing above itself."""

"""ROGLE, beside retrieval in the stack: region-to-sentence matching (RSM) and the local protocol.
Units of captions with their ground truth (units), their assignment to part regions (match), the
vision-language judge that embeds both (embedder), mining over a dataset (mine), and the local
protocol's measures and table (measures, local_protocol). It reads models, data and text; the
training loop reads its mined pairs.

Region-to-Sentence Matching (ROGLE's RSM): mine region-sentence pairs with no keyword list.

Per image, the caption is cut into units, every unit and every region is embedded with a
pretrained vision-language model, and units are assigned to regions one-to-one:

- units: for long captions, the caption's sentences (spaCy's sentencizer for English, underthesea's
  sent_tokenize for Vietnamese); for the short captions (one or two sentences that name several
  regions each), the caption's noun phrases (glalign.text.phrases.extract), since a sentence
  there rarely stays within one region while a noun phrase does;
- regions: each part box cropped from the image and resized to the model's input ("crop"), or
  the model's patch tokens averaged under the part mask ("pool"; the parsing map when there is
  one, else the box);
- assignment: scipy's linear_sum_assignment maximises the total cosine similarity with each
  region taken by at most `per_region` units (1: one-to-one). A unit's reliability is the
  margin between its assigned region's similarity and the best other present region's (0
  when the image has a single region). A margin rather than a softmax probability: it needs no
  temperature, whose right value depends on the model, and it is negative when the assignment
  overrode the unit's own first choice. Pairs under `min_margin` are dropped (unmatched).

Mined pairs are written beside the dataset as rsm_pairs.<lang>.<captions>.json. `quality`
scores them against the ground truth (regions.json sentence parts for long captions,
annotations.json mentions for SynthPEDES short captions) beside the keyword-lexicon baseline,
which gives a unit the majority part of its noun phrases."""

"""Old path of glalign.text.sentences, glalign.rogle.units, glalign.rogle.match, glalign.rogle.mine,
glalign.rogle.embedder (kept for one release): their names re-exported."""
from glalign.text.sentences import english_sentencizer, split_many, split_sentences  # noqa: F401
from glalign.rogle.units import (  # noqa: F401
    CAPTIONS, UNIT, Unit, add_lexicon, caption_units, keyword_parts, lexicon_part, truth_by_overlap,
    truth_for_phrases, unit_offsets,
)
from glalign.rogle.match import Pair, match, quality  # noqa: F401
from glalign.rogle.mine import mine, quality_table  # noqa: F401
from glalign.rogle.embedder import Embedder, model_fingerprint, region_embeddings  # noqa: F401

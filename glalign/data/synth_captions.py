"""Old path of glalign.data.vocabulary, glalign.data.captions_en, glalign.data.captions_vi,
glalign.data.translate, glalign.data.mentions (kept for one release): their names re-exported."""
from glalign.data.vocabulary import (  # noqa: F401
    EN_COLOUR, EN_COLOUR_REV, EN_HAIR_COLOUR, EN_HELD_OUT, EN_NOUN, EN_NOUN_REV, HELD_OUT_RATE, MT_COLOUR_VI,
    MT_EN, MT_SENSE_ERROR, MT_VI, MT_WRONG_EN, MT_WRONG_VI, PART_OF, STYLES, TYPE_PART, VI_COLOUR,
    VI_COLOUR_REV, VI_HELD_OUT, VI_NOUN, VI_NOUN_REV, WRONG_SENSES, WRONG_SENSE_PART, annotator_noun, choice,
    noun_part, reverse_vocab,
)
from glalign.data.captions_en import en_phrase, join_en, write_en  # noqa: F401
from glalign.data.captions_vi import VI_VERB, join_vi, vi_phrase, write_vi  # noqa: F401
from glalign.data.translate import translate, translation_mismatch_rate  # noqa: F401
from glalign.data.mentions import (  # noqa: F401
    CONTEXT, CONTEXT_RATE, DARK, KEEP, VIEW_RATE, annotator_mentions, context_keys, context_text,
    mentions_for, pattern_words,
)

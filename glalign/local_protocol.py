"""Old path of glalign.rogle.measures, glalign.rogle.local_protocol (kept for one release): their names
re-exported."""
from glalign.rogle.measures import (  # noqa: F401
    FOIL_KINDS, RANK_KEYS, ROW_COLUMNS, TESTS, by_part_means, chance_rank_metrics, cosine,
    grounding_accuracy, grounding_correct, ids_to_ints, local_tests, make_foils, part_conditioned_retrieval,
    part_rows, region_retrieval,
)
from glalign.rogle.local_protocol import attribute_key, evaluate_local, format_table  # noqa: F401

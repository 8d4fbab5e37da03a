"""Old path of glalign.repro.scenarios, glalign.repro.workspace and glalign.repro.tables (kept for one release): their
names re-exported."""
from glalign.repro.scenarios import (  # noqa: F401
    ALPHAS_TRAINED, ALPHA_SWEEP, INITS, LOCAL_SUPERVISION, MASKS, PROFILES, ROGLE_LANGS, RSM_JUDGE, RSM_SETTINGS,
    SCENARIOS, SEEDS, STUDIES, SV2_IDS, VARIANTS, Scenario, pipeline_runs, profile_settings,
)
from glalign.repro.workspace import (  # noqa: F401
    Workspace, call_in_worker, default_workers, mined_pairs_digest, set_threads,
)
from glalign.repro.tables import result_row, scenario_table  # noqa: F401

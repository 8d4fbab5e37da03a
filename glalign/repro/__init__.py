"""Reproduction: the paper's experiments run end to end. notebooks executed with papermill into
results/<profile>/ (reproduce), the summary written beside the tables (summary), the paper's own
numbers and their inconsistencies (paper), a rerun checked against the committed tables within
stated tolerances (verify), the validation sweep that chose the fine-tuning recipe (sweep) and
the benchmarks (bench). The scenario workspace that trains and evaluates every run joins it."""

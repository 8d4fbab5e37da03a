"""Datasets: readers for the real TBPS layouts, the SynthPEDES generator, splits, torch datasets."""

"""The embedded synthetic benchmark: brain MRI, liver CT and retina OCT in BMAD layouts."""

from bench.datasets.synth.writer import (
    DEFAULTS,
    GENERATOR_VERSION,
    MODALITY_LAYOUTS,
    SynthSummary,
    case_paths,
    generate_modality,
    generate_synthetic,
    split_plan,
)

__all__ = [
    "DEFAULTS",
    "GENERATOR_VERSION",
    "MODALITY_LAYOUTS",
    "SynthSummary",
    "case_paths",
    "generate_modality",
    "generate_synthetic",
    "split_plan",
]

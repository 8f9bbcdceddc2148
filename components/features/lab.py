"""The lab's three feature sets: mel (rows 0-127), chroma (128-139) and both (fused)."""

import numpy as np

from sweep.dataset_api import FeatureSet
from sweep.lab.layout import MEL_FLOOR_DB, N_CHROMA, N_MEL
from sweep.registry import feature_sets

# Silence is the dB floor for mel rows, not 0 (0 dB is the loudest bin of the clip), and 0
# for chroma (no energy in any pitch class).
_MEL_FLOOR = np.full(N_MEL, MEL_FLOOR_DB, dtype=np.float32)
_CHROMA_FLOOR = np.zeros(N_CHROMA, dtype=np.float32)


@feature_sets.register("mel")
def mel() -> FeatureSet:
    """128-band mel spectrogram in dB (rows 0-127)."""
    return FeatureSet("mel", np.arange(N_MEL), _MEL_FLOOR)


@feature_sets.register("chroma")
def chroma() -> FeatureSet:
    """12-bin chromagram (rows 128-139)."""
    return FeatureSet("chroma", np.arange(N_MEL, N_MEL + N_CHROMA), _CHROMA_FLOOR)


@feature_sets.register("fused")
def fused() -> FeatureSet:
    """Mel and chroma stacked, all 140 rows (the report's "all")."""
    return FeatureSet(
        "fused", np.arange(N_MEL + N_CHROMA), np.concatenate([_MEL_FLOOR, _CHROMA_FLOOR])
    )

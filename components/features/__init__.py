"""Feature set components: which rows of the stored (140, T) arrays a model sees."""

from components.features import lab  # noqa: F401  (registers mel, chroma, fused)

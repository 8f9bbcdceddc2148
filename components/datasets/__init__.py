"""Data set components: label files in, a `sweep.dataset_api.DataSource` out."""

from components.datasets import lab  # noqa: F401  (registers fma_genre, multitask)

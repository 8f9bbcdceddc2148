"""Head components: (B, D) embeddings in, task outputs and their loss out."""

from components.heads import tasks  # noqa: F401  (registers classifier, regressor, multitask)

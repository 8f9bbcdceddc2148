"""Head components: (B, D) embeddings in, task outputs and their loss out."""

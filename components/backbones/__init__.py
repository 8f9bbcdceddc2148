"""Backbone components: (B, T, F) sequences and their lengths in, (B, D) embeddings out."""

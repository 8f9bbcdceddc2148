"""Backbone components: (B, T, F) sequences and their lengths in, (B, D) embeddings out."""

from components.backbones import cnn, lstm  # noqa: F401  (registers cnn, lstm)

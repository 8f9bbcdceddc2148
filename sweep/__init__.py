"""sweep: declarative AutoML sweeps for music models trained on spectrograms."""

__version__ = "0.1.0"

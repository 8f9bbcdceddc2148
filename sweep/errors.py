"""Errors the user can act on.

Every error the CLI shows as one line (no traceback) derives from `SweepError`. Raise them
with a message that says where (file, line, field) and what rule was broken, with the value
received: "train_labels.txt:14: no .npy file for id 1042 in .../train".
"""


class SweepError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


class DataError(SweepError):
    """A data folder, label file or array that does not follow the expected layout."""


class SpecError(SweepError):
    """A spec (YAML or --set override) that does not validate."""

"""The lab's data format and its tools: the Kaggle layout, the feature recipe, demo data, views.

The generic engine (`sweep.cache`, `sweep.data`, ...) reads whatever arrays a data set
component describes (`sweep.dataset_api.StoredArrays`); everything that knows the lab's
folder names, label files and 140 rows of 128 mel + 12 chroma lives here:

- `layout`: the on-disk format (folders, label files and their name styles, the rows).
- `folders`: which of the lab's data sets a data root holds.
- `audio_features`: the feature recipe, audio -> (140, T) arrays.
- `extract`: a user's own audio and labels -> the layout (`sweep data extract`).
- `demo`: a synthetic data set in the layout (`sweep data demo`).
- `show`: pictures of a data root (`sweep data show`).
- `inputs`: new tracks to predict on, arrays or audio (`sweep predict`).

Nothing is imported here: `audio_features` loads librosa, which the arrays never need.
"""

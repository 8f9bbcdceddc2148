"""From a data spec to ready splits: load once (cached), match labels, split, standardise.

    data = prepare(spec.data)
    for x, lengths, y in data.batches(data.train, batch_size=8, rng=rng): ...
    ...
    test = data.test()  # only for the final evaluation

The test split is loaded (official test set) or handed out (carved from train) only by
`test()`, so nothing before the final evaluation can select on it. Standardisation
statistics come from the training split alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sweep import splits as splitting
from sweep.cache import load_folder
from sweep.dataset_api import DataSource, FeatureSet, Part
from sweep.errors import DataError, SpecError
from sweep.registry import datasets, feature_sets
from sweep.spec import DataSpec
from sweep.tracks import TrackSet, pad_batch, random_crops


@dataclass(frozen=True)
class Split:
    """Tracks ready for a model (features selected, cut, standardised) and their targets."""

    name: str
    tracks: TrackSet
    targets: np.ndarray | None

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.tracks.ids]


@dataclass(frozen=True)
class _Labelled:
    """Labelled tracks of one part as positions into its folder's TrackSet (no copy yet)."""

    folder_tracks: TrackSet
    positions: np.ndarray
    targets: np.ndarray
    ids: list[str]

    def take(self, idx: np.ndarray, name: str, features: FeatureSet, spec: DataSpec) -> Split:
        tracks = self.folder_tracks.take(
            self.positions[idx], rows=features.rows, max_length=spec.max_length
        )
        return Split(name, tracks, self.targets[idx])


@dataclass
class LoadReport:
    """What loading found: for summaries, logs and the study record."""

    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # id -> reason
    stratified: bool = False


@dataclass
class PreparedData:
    spec: DataSpec
    source: DataSource
    feature_set: FeatureSet
    train: Split
    validation: Split
    split_ids: dict[str, list[str]]
    pad_value: np.ndarray  # (n_features,): what padding frames hold
    mean: np.ndarray | None  # standardisation statistics of the training split
    std: np.ndarray | None
    report: LoadReport
    _test: Split | None = None
    _test_part: Part | None = None  # the official test set, loaded on demand

    @property
    def task(self) -> str:
        return self.source.task

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.source.class_names

    @property
    def target_names(self) -> tuple[str, ...]:
        return self.source.target_names

    @property
    def n_features(self) -> int:
        return self.feature_set.n_features

    def test(self) -> Split:
        """The test split, for the final evaluation only."""
        if self._test is None:
            if self._test_part is None:
                raise DataError(f"{self.source.name}: no test split")
            labelled = _load_part(self._test_part, self.spec, self.report)
            self.split_ids["test"] = labelled.ids  # without tracks skipped as bad
            everything = np.arange(len(labelled.ids))
            self._test = self._standardised(
                labelled.take(everything, "test", self.feature_set, self.spec)
            )
        return self._test

    def _standardised(self, split: Split) -> Split:
        if self.mean is None:
            return split
        frames = (split.tracks.frames - self.mean) / self.std
        return Split(split.name, split.tracks.with_frames(frames), split.targets)

    def batches(
        self,
        split: Split,
        batch_size: int,
        rng: np.random.Generator | None = None,
        bucket: int = 0,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(x (B, T, F), lengths (B,), targets) batches; shuffled when `rng` is given.

        Training batches (a shuffled training split) are random crops of `crop_frames`
        when the spec asks for crops; every other batch is padded to its longest track, or
        to `max_length`.

        `bucket` > 1 (with `rng`): the shuffled tracks are taken `bucket` batches at a time,
        sorted by length within that chunk and cut into batches, and the batches are shuffled:
        tracks of a batch have similar lengths, so batches carry less padding.
        """
        n = len(split)
        order = np.arange(n) if rng is None else rng.permutation(n)
        crop = self.spec.crop_frames if (rng is not None and split is self.train) else None
        starts = range(0, n, batch_size)
        if rng is not None and bucket > 1 and not crop:
            lengths = split.tracks.lengths
            chunk = bucket * batch_size
            for c in range(0, n, chunk):
                part = order[c : c + chunk]
                order[c : c + chunk] = part[np.argsort(lengths[part], kind="stable")]
            starts = rng.permutation(starts)
        for start in starts:
            idx = order[start : start + batch_size]
            if crop:
                x, lengths = random_crops(split.tracks, idx, crop, self.pad_value, rng)
            else:
                x, lengths = pad_batch(split.tracks, idx, self.pad_value, self.spec.max_length)
            yield x, lengths, None if split.targets is None else split.targets[idx]

    def split_record(self) -> dict:
        """The split as ids per split, with how it was made (written as split.json)."""
        s = self.spec
        return {
            "dataset": s.dataset,
            "root": str(s.root),
            "beat": s.beat,
            "options": s.options,
            "split_seed": s.split_seed,
            "val_fraction": s.val_fraction,
            "test_source": "official" if self.source.has_test_labels else "carved from train",
            "test_fraction": None if self.source.has_test_labels else s.test_fraction,
            "stratified": self.report.stratified,
            **self.split_ids,
        }


def build_source(spec: DataSpec) -> DataSource:
    """The data set component named by the spec, with its options checked against it."""
    check_options(spec)
    return datasets.build(spec.dataset, root=spec.root, beat=spec.beat, **spec.options)


def check_options(spec: DataSpec, where: str = "data.options") -> None:
    """Raise SpecError, its message starting with `where`, unless `spec.options` fit the
    data set's signature; nothing is read, so data sets loaded one after another can all be
    checked first."""
    check = datasets.check_call(spec.dataset, spec.options)
    misfit = check.error
    if check.engine_given:
        misfit = f"{check.engine_given[0]!r} is set by sweep from the data"
    if misfit is not None:
        raise SpecError(
            f"{where}: {misfit} (data set {spec.dataset!r} takes "
            f"{datasets.signature(spec.dataset)}){check.hint}"
        )


def prepare(spec: DataSpec) -> PreparedData:
    """Load, split and standardise the data a spec names (test split held back).

    Raises DataError for a classification data set whose usable training tracks have fewer
    than two classes, and for a split that would be empty; SpecError for a feature set that
    selects rows the data set's arrays do not have.
    """
    started = time.perf_counter()
    report = LoadReport()
    source = build_source(spec)
    features: FeatureSet = feature_sets.build(spec.features)
    _check_rows(features, source)
    labelled = _load_part(source.parts["train"], spec, report)

    classes = labelled.targets if source.task == "classification" else None
    if spec.split_file is not None:
        split_ids = _recorded_split(spec.split_file, labelled, source)
    else:
        split_ids = _carve_split(labelled, source, spec, classes, report)
    if classes is not None and len(np.unique(classes)) < 2:
        part = source.parts["train"]
        names = dict(enumerate(source.class_names))
        found = ", ".join(repr(names.get(int(c), int(c))) for c in np.unique(classes))
        raise DataError(
            f"{part.label_file}: classification needs at least 2 classes, but the usable "
            f"training tracks have only {found}"
        )
    by_id = {tid: i for i, tid in enumerate(labelled.ids)}

    def subset(name: str) -> Split:
        idx = np.array([by_id[t] for t in split_ids[name]], dtype=np.int64)
        return labelled.take(idx, name, features, spec)

    train = subset("train")
    mean = std = None
    pad_value = features.floor.astype(np.float32)
    if spec.normalization == "standardize":
        mean = train.tracks.frames.mean(axis=0, dtype=np.float64).astype(np.float32)
        std = train.tracks.frames.std(axis=0, dtype=np.float64).astype(np.float32)
        std[std < 1e-6] = 1.0  # a constant feature stays constant instead of exploding
        pad_value = np.zeros(features.n_features, dtype=np.float32)  # the mean: silence-neutral

    data = PreparedData(
        spec, source, features, train, train, split_ids, pad_value, mean, std, report
    )
    data.train = data._standardised(train)
    data.validation = data._standardised(subset("validation"))
    if source.has_test_labels:
        _check_test_part(source.parts["test"])  # now, not after the whole search
        data._test_part = source.parts["test"]
    else:  # carved from train: already loaded, kept aside until asked for
        data._test = data._standardised(subset("test"))
    report.seconds = time.perf_counter() - started
    return data


def _check_test_part(part: Part) -> None:
    """The test split is loaded only once the search is over; what can be told of it
    without loading it is checked before the first epoch: it has labels, and its folder."""
    if not part.ids:
        raise DataError(
            f"{part.label_file}: no track in the test labels, so nothing to test the study on"
        )
    if not part.folder.is_dir():
        raise DataError(f"{part.folder}: the test folder is missing ({part.label_file} names it)")


def _check_rows(features: FeatureSet, source: DataSource) -> None:
    """A feature set can only select rows that the data set's arrays have."""
    highest = int(np.max(features.rows))
    for part in source.parts.values():
        if highest >= part.arrays.rows:
            raise SpecError(
                f"data.features: feature set {features.name!r} uses row {highest}, but the "
                f"{part.name} arrays of {source.name} have {part.arrays.rows} rows"
            )


def _carve_split(
    labelled: _Labelled,
    source: DataSource,
    spec: DataSpec,
    classes: np.ndarray | None,
    report: LoadReport,
) -> dict[str, list[str]]:
    ids = np.array(labelled.ids)
    split_ids: dict[str, list[str]] = {}
    pool = np.arange(len(ids))
    if source.has_test_labels:
        split_ids["test"] = [t for t in source.parts["test"].ids if t not in report.skipped]
    else:
        kept, carved, _ = splitting.carve(len(pool), spec.test_fraction, spec.split_seed, classes)
        split_ids["test"] = ids[carved].tolist()
        pool = kept
    # The validation share is of all labelled training tracks, test share included.
    fraction = spec.val_fraction * len(ids) / len(pool)
    if fraction >= 1:
        raise DataError(f"data.val_fraction {spec.val_fraction} leaves no training tracks")
    kept, carved, stratified = splitting.carve(
        len(pool), fraction, spec.split_seed, None if classes is None else classes[pool]
    )
    report.stratified = stratified
    split_ids["train"] = ids[pool[kept]].tolist()
    split_ids["validation"] = ids[pool[carved]].tolist()
    return {name: split_ids[name] for name in ("train", "validation", "test")}


def _recorded_split(path: Path, labelled: _Labelled, source: DataSource) -> dict[str, list[str]]:
    recorded = splitting.read_split(path)
    known = set(labelled.ids)
    for name in ("train", "validation") + (() if source.has_test_labels else ("test",)):
        if name not in recorded:
            raise DataError(f"{path}: no {name!r} ids, and {source.name} needs them")
        unknown = [t for t in recorded[name] if t not in known]
        if unknown:
            raise DataError(
                f"{path}: {name} id {unknown[0]} is not a labelled training track "
                f"of {source.name} ({len(unknown)} such ids)"
            )
        if not recorded[name]:
            raise DataError(f"{path}: the {name} split is empty")
    if source.has_test_labels:
        recorded["test"] = list(source.parts["test"].ids)
    return {name: recorded[name] for name in ("train", "validation", "test")}


def _load_part(part: Part, spec: DataSpec, report: LoadReport) -> _Labelled:
    """The tracks of one labelled part with their targets, in label-file order.

    Every problem (a label without its `.npy`, an unreadable or invalid array) is an error
    naming the file, unless the spec skips bad tracks; then they are counted in the report.
    """
    loaded = load_folder(part.folder, part.arrays, use_cache=spec.cache)
    if loaded.from_cache:
        report.cache_hits += 1
    else:
        report.cache_misses += 1
    position = {str(t): i for i, t in enumerate(loaded.tracks.ids)}
    keep: list[int] = []
    rows: list[int] = []
    problems: list[str] = []
    for r, (tid, line) in enumerate(zip(part.ids, part.lines, strict=True)):
        if tid in loaded.bad:
            problems.append(f"{part.label_file}:{line}: {loaded.bad[tid]}")
        elif tid not in position:
            problems.append(f"{part.label_file}:{line}: no .npy file for id {tid} in {part.folder}")
        else:
            keep.append(position[tid])
            rows.append(r)
            continue
        report.skipped[tid] = problems[-1]
    if problems and not spec.skip_bad:
        more = (
            f" (and {len(problems) - 1} more; data.skip_bad skips them)"
            if len(problems) > 1
            else " (data.skip_bad skips such tracks)"
        )
        raise DataError(problems[0] + more)
    if not keep:
        raise DataError(f"{part.label_file}: no usable labelled track in {part.folder}")
    rows_kept = np.array(rows, dtype=np.int64)
    return _Labelled(
        loaded.tracks,
        np.array(keep, dtype=np.int64),
        part.targets[rows_kept],
        [part.ids[r] for r in rows],
    )

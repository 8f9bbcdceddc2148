"""Specs: what to train and what to search, as frozen Pydantic models.

A spec is YAML (see `sweep.specfile` for loading it with line numbers, `--set` overrides and
the checks that need the registry). Every model here forbids unknown keys: a typo is an
error, never silently ignored. The fixed values of a spec (model, training, data) are its
*reference configuration*: the first trial of every study, so the reference model is always
measured on the same data, side by side with the search.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from sweep.errors import SpecError, SweepError
from sweep.registry import datasets, heads

Scalar = str | int | float | bool | None
Choice = Scalar | list[Scalar]


class Frozen(BaseModel):
    # NaN and infinity are no number a spec means (`lr: .inf`, `high: .nan`): refused.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


SEED_MAX = 2**32 - 1  # numpy, scikit-learn and Optuna take seeds in [0, 2**32)


# ----------------------------------------------------------------------------- data


class DataSpec(Frozen):
    """The data a study trains on, and how it is split and prepared."""

    dataset: str = Field(description="registered data set, e.g. fma_genre or multitask")
    root: Path = Field(description="the Kaggle data/ folder (relative to the current folder)")
    # None only where the data set is unknown or names no default: `sweep.validate` says so.
    features: str = Field(
        None,
        description="registered feature set, e.g. mel, chroma or fused (default: the data "
        "set's own, registered as its default_features)",
    )
    beat: bool = Field(True, description="beat-synchronised arrays (else full resolution)")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="the data set's own parameters, e.g. {merge_classes: false} for fma_genre",
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="validation share of train")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="test share of train, where the test set has no labels"
    )
    split_seed: int = Field(0, ge=0, le=SEED_MAX, description="seed of the carved splits")
    split_file: Path | None = Field(
        None, description="a recorded split (split.json) to reuse instead of carving one"
    )
    normalization: Literal["standardize", "none"] = Field(
        "standardize",
        description="standardize: per-feature mean/std of the training split; "
        "none: raw values, padded with each feature's floor (the dB floor for mel)",
    )
    max_length: PositiveInt | None = Field(
        None, description="cut tracks to their first N frames and pad batches to N"
    )
    crop_frames: PositiveInt | None = Field(
        None, description="train on one random window of N frames per track and epoch"
    )
    eval_windows: bool = Field(
        False,
        description="with crop_frames: evaluate a track as the mean output over its windows "
        "of crop_frames (else the whole track at once)",
    )
    skip_bad: bool = Field(False, description="skip unreadable or invalid tracks, counted")
    cache: bool = Field(True, description="cache parsed arrays on disk (see sweep data cache)")

    @model_validator(mode="before")
    @classmethod
    def _default_features(cls, data: Any) -> Any:
        """No `features`: the data set's default, named where the data set is registered."""
        if (
            isinstance(data, dict)
            and "features" not in data
            and isinstance(data.get("dataset"), str)
        ):
            try:
                default = datasets.metadata(data["dataset"]).get("default_features")
            except SweepError:
                return data  # an unknown or broken data set, which the spec's check reports
            if default is not None:
                data = {**data, "features": default}
        return data

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> DataSpec:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "val_fraction + test_fraction < 1 must hold, but got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        return self


# ----------------------------------------------------------------------------- task, model


class TaskSpec(Frozen):
    """What is predicted: classes, one or more regression targets, or several at once."""

    kind: Literal["classification", "regression", "multitask"]
    targets: list[str] | None = Field(
        None, description="regression/multitask: the label columns, in order (default: all)"
    )
    per_target: bool = Field(
        False,
        description="regression: one study per target, named <study>_<target> (the lab "
        "report's single-task regressors)",
    )

    @model_validator(mode="after")
    def _targets_only_for_regression(self) -> TaskSpec:
        if self.kind == "classification" and self.targets:
            raise ValueError(f"targets are for regression and multitask, got {self.targets}")
        if self.per_target and (self.kind != "regression" or not self.targets):
            raise ValueError(
                "per_target needs kind regression and the targets listed, got "
                f"kind={self.kind!r}, targets={self.targets}"
            )
        return self

    @property
    def default_head(self) -> str:
        """The head registered as this task's default (`default_for_task`)."""
        found = heads.find("default_for_task", self.kind)
        if len(found) != 1:
            failed = "".join(f"; {message}" for message in heads.failed().values())
            raise SpecError(
                f"model.head: {' and '.join(map(repr, found)) or 'no head'} "
                f"{'are' if found else 'is'} registered as the default for {self.kind} "
                f"(default_for_task); name the head in model.head{failed}"
            )
        return found[0]


class ModelSpec(Frozen):
    """A registered backbone and head with their fixed parameters."""

    backbone: str = Field(description="registered backbone, e.g. lstm or cnn")
    backbone_params: dict[str, Any] = Field(default_factory=dict)
    head: str | None = Field(None, description="registered head (default: the task's)")
    head_params: dict[str, Any] = Field(default_factory=dict)
    init_from: str | None = Field(
        None,
        description="transfer learning: start the backbone from a finished study's best "
        "checkpoint (a study name under the results folder, or a checkpoint path); the head "
        "is new",
    )


class TrainingSpec(Frozen):
    """The optimisation of one trial. Defaults are the reference report's setup."""

    max_epochs: PositiveInt = 40
    batch_size: PositiveInt = 8
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-4, gt=0, description="learning rate")
    weight_decay: float = Field(0.0, ge=0)
    patience: PositiveInt | None = Field(
        5, description="early stopping: epochs without improvement (null: never stop early)"
    )
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as better")
    keep: Literal["best", "last"] = Field(
        "best",
        description="the weights a trial keeps and is judged by: best (its best validation "
        "epoch's, the reference's) or last (its last epoch's: with a cosine schedule, the "
        "model the recipe ends on; its validation value is not chosen among the epochs on "
        "the same tracks, so it ranks trials without that lift)",
    )
    grad_clip: float | None = Field(None, gt=0, description="clip the gradient norm")
    freeze_epochs: int = Field(
        0, ge=0, description="transfer: train only the new head for the first N epochs"
    )
    lr_schedule: Literal["none", "cosine", "plateau"] = Field(
        "none",
        description="none: lr throughout (the reference); cosine: decay to 0 over max_epochs, "
        "set every batch; plateau: lr times plateau_factor after plateau_patience epochs "
        "without a better validation metric (better by more than min_delta)",
    )
    warmup_epochs: int = Field(
        0, ge=0, description="raise the lr linearly from 0 over the first N epochs (per batch)"
    )
    plateau_factor: float = Field(0.5, gt=0, lt=1, description="plateau: lr multiplier")
    plateau_patience: PositiveInt = Field(
        2, description="plateau: epochs without improvement before the lr is cut"
    )
    ema_epochs: float = Field(
        0.0,
        ge=0,
        description="weight averaging: validate, checkpoint and keep an exponential moving "
        "average of the weights over about N epochs (per-step decay 1 - 1/(N * steps per "
        "epoch), shorter while few steps have been taken; 0: the weights as trained)",
    )
    time_mask: float = Field(
        0.0,
        ge=0,
        description="SpecAugment, training batches only: widest time mask, a fraction of the "
        "track's length if < 1, else frames (0: none)",
    )
    time_masks: PositiveInt = Field(2, description="time masks per track (with time_mask)")
    freq_mask: int = Field(
        0, ge=0, description="SpecAugment: widest band of masked feature bins (0: none)"
    )
    freq_masks: PositiveInt = Field(2, description="feature-bin masks per track (with freq_mask)")
    mixup: float = Field(
        0.0,
        ge=0,
        description="mixup alpha: pairs of a training batch mixed with a Beta(alpha, alpha) "
        "weight, targets likewise (0: off)",
    )
    length_buckets: int = Field(
        0,
        ge=0,
        description="speed: sort each run of N shuffled training batches by track length "
        "before cutting it, so batches pad less (0: plain shuffled batches, the reference)",
    )
    seed: int = Field(0, ge=0, le=SEED_MAX)
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda or cuda:N")
    threads: PositiveInt | None = Field(
        None, le=1024, description="torch threads (default: all cores)"
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", v):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {v!r}")
        return v


# ----------------------------------------------------------------------------- search space


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low > high:
        raise ValueError(f"`low <= high` must hold, but got low={low}, high={high}")
    if log and low <= 0:
        raise ValueError(f"`low > 0` must hold for a log scale, but got low={low}")
    if log and step is not None:
        raise ValueError(f"step and log cannot both be used, but got step={step}, log=true")
    if step is not None and step <= 0:
        raise ValueError(f"`step > 0` must hold, but got step={step}")


class FloatParam(Frozen):
    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    @model_validator(mode="after")
    def _valid_range(self) -> FloatParam:
        _check_range(self.low, self.high, self.log, self.step)
        return self

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (self.low <= value <= self.high)
        )


class IntParam(Frozen):
    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: PositiveInt = 1

    @model_validator(mode="after")
    def _valid_range(self) -> IntParam:
        _check_range(self.low, self.high, self.log, None if self.step == 1 else self.step)
        return self

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )


class CategoricalParam(Frozen):
    """A choice; with a mapping, each choice opens its own sub-space (a conditional branch):

    model.backbone:
      choices:
        lstm: {model.backbone_params.hidden_size: {low: 32, high: 256, log: true}}
        cnn: {model.backbone_params.dropout: {low: 0.0, high: 0.5}}
    """

    type: Literal["categorical"] = "categorical"
    choices: list[Choice] | dict[str, dict[str, Param]]

    @field_validator("choices")
    @classmethod
    def _non_empty_unique(cls, v: Any) -> Any:
        keys = list(v) if isinstance(v, dict) else [repr(c) for c in v]
        if not keys:
            raise ValueError("at least one choice is needed, got none")
        if len(set(keys)) != len(keys):
            raise ValueError(f"choices must be unique, got {list(v)}")
        return v

    @property
    def values(self) -> list[Choice]:
        return list(self.choices)

    def branch(self, value: Choice) -> dict[str, Param]:
        return self.choices.get(value, {}) if isinstance(self.choices, dict) else {}

    def contains(self, value: Any) -> bool:
        return value in self.values


def _infer_param_type(value: Any) -> Any:
    """`{low: 1e-5, high: 1e-2}` is a float, `{low: 1, high: 4}` an int, `{choices: ..}` a
    categorical: the `type` key is needed only to say otherwise."""
    if isinstance(value, dict) and "type" not in value:
        if "choices" in value:
            return {"type": "categorical", **value}
        bounds = [value.get("low"), value.get("high"), value.get("step", 1)]
        ints = all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        return {"type": "int" if ints else "float", **value}
    return value


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]
CategoricalParam.model_rebuild()


class SamplerSpec(Frozen):
    name: Literal["tpe", "random", "cmaes", "gp", "grid"] = "tpe"
    seed: int | None = Field(0, ge=0, le=SEED_MAX)
    n_startup_trials: PositiveInt | None = Field(
        None, description="random trials before the model-based sampler (tpe, gp, cmaes)"
    )


class PrunerSpec(Frozen):
    name: Literal[
        "auto", "none", "median", "percentile", "hyperband", "successive_halving", "wilcoxon"
    ] = Field(
        "auto",
        description="auto: median on epochs, and with cross-validated trials "
        "(search.selection.folds) also wilcoxon on folds. wilcoxon compares a trial's folds "
        "with the best trial's, fold by fold. "
        "successive_halving and hyperband, with folds, also halve over folds: after 1, "
        "reduction_factor, ... folds only the best 1/reduction_factor of the means go on",
    )
    n_startup_trials: int = Field(3, ge=0, description="median/percentile: trials never pruned")
    n_warmup_steps: int = Field(3, ge=0, description="median/percentile: epochs never pruned")
    percentile: float = Field(25.0, gt=0, lt=100, description="percentile: keep the top p%")
    min_resource: PositiveInt | Literal["auto"] = Field(
        "auto",
        description="hyperband/halving: epochs before the first cut; auto: 2 on one validation "
        "split, training.patience + 1 when trials are cross-validated (the first fold is not "
        "judged before early stopping could have stopped it; the folds do the halving)",
    )
    reduction_factor: int = Field(
        3, ge=2, description="hyperband/halving: keep 1/factor (of the epochs' and the folds')"
    )
    patience: PositiveInt | None = Field(
        None, description="patient pruning: prune only after this many epochs without progress"
    )
    p_threshold: float = Field(
        0.1, gt=0, lt=1, description="wilcoxon: prune when worse with this p-value or less"
    )
    min_cpu_seconds: PositiveFloat | Literal["auto", "none"] = Field(
        "none",
        description="also halve on CPU cost (needs search.budget): at this many CPU seconds "
        "of a trial, then reduction_factor times more, ..., a trial goes on only if its best "
        "value so far is among the best 1/reduction_factor of the trials' there (a trial "
        "that completed for less counts with its value); auto: a 50th of the budget; none: off",
    )


class SelectionSpec(Frozen):
    """How the best configuration is chosen and what is tested (see sweep.selection)."""

    folds: int | Literal["auto"] = Field(
        "auto",
        description="cross-validation folds of train+validation per trial (1: the one "
        "validation split); auto: 5 below 1000 train+validation tracks, else 1",
    )
    final: Literal["auto", "ensemble", "refit", "model", "ensemble_selection"] = Field(
        "auto",
        description="what the test split scores, for the best and the reference trial alike: "
        "ensemble: the mean prediction of the trial's fold models (needs folds); refit: the "
        "configuration retrained on train+validation; model: the trial's own model (with "
        "folds, its best fold's); ensemble_selection: each trial's own model, and also a "
        "weighted ensemble of the complete trials, chosen greedily on their out-of-fold "
        "predictions (Caruana et al. 2004), each member with folds the mean of its fold "
        "models; auto: ensemble with folds, else model",
    )
    keep: Literal["best", "last"] | None = Field(
        None,
        description="the epoch every trial but the reference is judged and kept at "
        "(training.keep for them): last, on a small validation split, ranks trials and "
        "weighs ensemble members without the lift of choosing an epoch on the same tracks; "
        "they then train to max_epochs (patience null: where early stopping stops is chosen "
        "on the validation tracks too), cut only by the pruner and the budget; the reference "
        "keeps the spec's training, the lab's best epoch; null: training.keep for every trial",
    )
    ensemble_size: int = Field(
        25,
        ge=1,
        le=200,
        description="ensemble_selection: rounds of greedy selection (with replacement) in each bag",
    )
    ensemble_bags: int = Field(
        20,
        ge=1,
        le=200,
        description="ensemble_selection: greedy selections, each from a random half of the "
        "trials, whose weights are averaged (bagged ensemble selection, Caruana et al. 2006: "
        "it overfits a small validation split less); 1: one selection from every trial",
    )
    ensemble_refit: bool = Field(
        False,
        description="ensemble_selection: test each member (and the best and the reference "
        "trial) as its configuration retrained on train+validation for its best epoch, the "
        "data the pooled-features baseline is refitted on; the weights stay those chosen on "
        "the trials' own held-out predictions",
    )

    @model_validator(mode="before")
    @classmethod
    def _refit_is_final(cls, data: Any) -> Any:
        """`refit: true/false/auto` (sweep 0.1's field) means `final: refit/model/auto`."""
        if isinstance(data, dict) and "refit" in data:
            if "final" in data:
                raise ValueError("give final (refit is its older spelling), not both")
            data = dict(data)
            refit = data.pop("refit")
            mapping = {True: "refit", False: "model", "auto": "auto"}
            if not isinstance(refit, bool | str) or refit not in mapping:
                raise ValueError(f"refit must be true, false or auto, got {refit!r}")
            data["final"] = mapping[refit]
        return data

    @field_validator("folds")
    @classmethod
    def _at_least_one(cls, v: int | str) -> int | str:
        if isinstance(v, int) and not (1 <= v <= 20):
            raise ValueError(f"folds must be auto or 1-20, got {v}")
        return v


class SearchSpec(Frozen):
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    selection: SelectionSpec = SelectionSpec()
    n_trials: PositiveInt = 20
    timeout: float | None = Field(None, gt=0, description="seconds for this run")
    budget: float | None = Field(
        None,
        gt=0,
        description="CPU minutes for the whole study, every worker and machine together; "
        "the study stops at the budget or at n_trials, whichever comes first",
    )
    metric: str | None = Field(
        None,
        description="validation metric: accuracy, macro_f1, loss (classification); "
        "spearman, loss (regression). Default: accuracy / spearman",
    )
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="default: minimize for loss, maximize otherwise"
    )
    space: dict[str, Param] = Field(default_factory=dict)
    enqueue: list[dict[str, Any]] = Field(
        default_factory=list,
        description="configurations tried right after the reference, in order (a portfolio "
        "of settings known to work, as AutoGluon starts from): each maps paths of the space "
        "to values within it; the paths it leaves out are sampled",
    )

    @field_validator("space", mode="before")
    @classmethod
    def _infer_types(cls, v: Any) -> Any:
        return _infer_space_types(v)

    @model_validator(mode="after")
    def _cost_halving_needs_a_budget(self) -> SearchSpec:
        if self.pruner.min_cpu_seconds != "none":
            if self.budget is None:
                raise ValueError(
                    "pruner.min_cpu_seconds needs search.budget (CPU minutes), got no budget"
                )
            if self.pruner.name == "none":
                raise ValueError("pruner.min_cpu_seconds needs a pruner, got pruner.name none")
        return self


def _infer_space_types(space: Any) -> Any:
    if not isinstance(space, dict):
        return space
    out = {}
    for path, param in space.items():
        param = _infer_param_type(param)
        if isinstance(param, dict) and isinstance(param.get("choices"), dict):
            param = {
                **param,
                "choices": {k: _infer_space_types(sub) for k, sub in param["choices"].items()},
            }
        out[path] = param
    return out


# ----------------------------------------------------------------------------- the spec


class Spec(Frozen):
    """One study: data, task, model, training, search, and the reference it is compared with."""

    study: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the study's name")
    description: str = ""
    data: DataSpec
    task: TaskSpec
    model: ModelSpec
    training: TrainingSpec = TrainingSpec()
    search: SearchSpec = SearchSpec()
    reference: list[str] = Field(
        default_factory=list, description="rows of the reference table this study is compared with"
    )

    @property
    def metric(self) -> str:
        if self.search.metric:
            return self.search.metric
        return "accuracy" if self.task.kind == "classification" else "spearman"

    @property
    def direction(self) -> str:
        if self.search.direction:
            return self.search.direction
        return "minimize" if self.metric == "loss" else "maximize"

    @property
    def head(self) -> str:
        return self.model.head or self.task.default_head

    def per_target_specs(self) -> list[Spec]:
        """The studies this spec stands for: itself, or one per target when per_target."""
        if not self.task.per_target:
            return [self]
        return [
            self.model_copy(
                update={
                    "study": f"{self.study}_{target}",
                    "task": self.task.model_copy(update={"targets": [target], "per_target": False}),
                }
            )
            for target in self.task.targets
        ]

    @property
    def resolved_data(self) -> DataSpec:
        """The data spec with the task's targets handed to the data set as an option."""
        if not self.task.targets:
            return self.data
        return self.data.model_copy(
            update={"options": {**self.data.options, "targets": list(self.task.targets)}}
        )


METRICS = {
    "classification": ("accuracy", "macro_f1", "loss"),
    "regression": ("spearman", "loss"),
}

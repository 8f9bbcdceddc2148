"""Specs: what to train, as frozen Pydantic models (a typo is an error, never ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSpec(Frozen):
    """The data a study trains on, and how it is split and prepared."""

    dataset: str = Field(description="registered data set, e.g. fma_genre or multitask")
    root: Path = Field(description="the Kaggle data/ folder holding the data set folders")
    features: str = Field("fused", description="registered feature set: mel, chroma or fused")
    beat: bool = Field(True, description="beat-synchronised arrays (else full resolution)")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="the data set's own parameters, e.g. {merge_classes: false} for fma_genre",
    )
    val_fraction: float = Field(0.2, gt=0, lt=1, description="validation share of train")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="test share of train, where the test set has no labels"
    )
    split_seed: int = Field(0, description="seed of the carved splits")
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
    skip_bad: bool = Field(False, description="skip unreadable or invalid tracks, counted")
    cache: bool = Field(True, description="cache parsed arrays on disk (see sweep data cache)")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> DataSpec:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "val_fraction + test_fraction < 1 must hold, but got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        return self

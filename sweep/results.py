"""Reading a finished study's folder (`results/<study>/`) without its spec."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from sweep.errors import SweepError

FOLD_MODELS = "folds.pt"  # a trial's fold models, kept where `final: ensemble` may test them
REFIT = "refit.pt"  # a trial's configuration retrained on train+validation (`final: refit`)


def best_trial_number(folder: Path) -> int:
    """The best trial of a study folder: test.json's, else the journal's best complete trial.

    test.json comes first because it is the trial the study tested; the journal is the
    fallback for a study interrupted before its test.

    Raises:
        SweepError: the folder is not a study, or no trial of it completed.
    """
    test = folder / "test.json"
    if test.is_file():
        try:
            trial = json.loads(test.read_text()).get("best", {}).get("trial")
        except (ValueError, AttributeError):
            trial = None  # unreadable: the journal still knows
        if isinstance(trial, int):
            return trial
    journal = folder / "optuna.journal"
    if not journal.is_file():  # checked first: the journal backend would create the file
        raise SweepError(f"{folder}: not a study folder (no test.json or optuna.journal)")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        backend = optuna.storages.journal.JournalFileBackend(str(journal))
        storage = optuna.storages.JournalStorage(backend)
        names = optuna.get_all_study_names(storage)
        # A study is stored under its spec's name; a renamed folder still holds one study.
        name = folder.name if folder.name in names or len(names) != 1 else names[0]
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError as e:
        raise SweepError(f"{journal}: no study named {folder.name!r} in it") from e
    except Exception as e:  # a damaged journal, a folder that cannot be read...
        raise SweepError(f"{journal}: cannot read the study ({type(e).__name__}: {e})") from e
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise SweepError(f"{folder}: no completed trial, so no model to predict with")
    pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(complete, key=lambda t: t.value).number


def trial_checkpoint(trial_dir: Path) -> Path:
    """The model a trial stands for, as its test scored it (see sweep.selection): its fold
    models (`folds.pt`, an ensemble), else its refit on train+validation (`refit.pt`), else
    its checkpoint from the search."""
    for name in (FOLD_MODELS, REFIT):
        if (Path(trial_dir) / name).is_file():
            return Path(trial_dir) / name
    return Path(trial_dir) / "checkpoint.pt"


def tested_as(record: dict) -> str:
    """How a stored test result (test.json's "best" or "reference") was made: "ensemble",
    "refit" or "model" (sweep 0.1 wrote `refit: true/false`)."""
    return record.get("final") or ("refit" if record.get("refit") else "model")

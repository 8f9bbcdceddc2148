"""The test split, once: the best and the reference trial scored as `selection.final` says.

    report = evaluate_on_test(study, folder, data, spec, notes, final="ensemble")

The test split is loaded here and nowhere during the search. Each of the two trials is
tested once, the same way: the mean of its fold models (`ensemble`), its configuration
retrained on train+validation (`refit`, see `refit_trial`) or its own model (`model`); a
result already stored for the same trial and the same way is kept, never measured again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import torch
import yaml

from sweep import selection, trials
from sweep.checkpoints import build, load_checkpoint, predict_checkpoint, save_checkpoint
from sweep.data import PreparedData, prepare
from sweep.metrics import evaluation_report
from sweep.results import StudyFolder, tested_as
from sweep.spec import Spec
from sweep.train import fit, pick_device
from sweep.transfer import load_backbone


def evaluate_on_test(
    study: optuna.Study,
    folder: Path,
    data: PreparedData,
    spec: Spec,
    notes: list[str],
    final: str = "model",
    init_from: Path | None = None,
) -> dict[str, Any]:
    """The best and the reference trial, each evaluated once on the test split, as
    `final` says (see sweep.selection): the mean of the trial's fold models ("ensemble"),
    its configuration retrained on train+validation ("refit", see `refit_trial`), or its
    own model ("model").

    The results go to `test.json` and into the study itself, so that a report on any
    machine sharing the storage has them. A trial that ran on another machine (its
    checkpoint is there) is tested by a `sweep run` there: a note says so.
    """
    complete = [t for t in study.trials if t.state == trials.STATES.COMPLETE]
    if not complete:
        return {}
    chosen = {"best": study.best_trial}
    reference = [t for t in complete if trials.is_reference(t)]
    if reference:
        chosen["reference"] = reference[0]
    results = StudyFolder(folder)
    stored = (
        results.read_test() if results.test.is_file() else study.user_attrs.get(trials.TEST, {})
    )
    test = None
    device = pick_device(spec.training.device)
    report = {}
    for role, trial in chosen.items():
        before = stored.get(role, {})
        if before.get("trial") == trial.number and tested_as(before) == final:
            report[role] = before  # evaluated once, never again
            continue
        trial_dir = results.trial(trial.number)
        checkpoint = trial_dir.checkpoint
        if not checkpoint.is_file():
            host = trial.user_attrs.get(trials.WORKER, {}).get("host", "another machine")
            notes.append(
                f"the {role} trial ({trial.number}) ran on {host}, and its checkpoint is there: "
                f"the same `sweep run` there tests it (or share --results between machines)"
            )
            continue
        how = final
        if final == "ensemble" and not trial_dir.fold_models.is_file():
            notes.append(
                f"the {role} trial ({trial.number}) kept no fold models (it ran before they "
                f"were kept, or elsewhere): its configuration was refitted instead"
            )
            how = "refit"
        if how == "refit":
            checkpoint = refit_trial(folder, trial, init_from)
        elif how == "ensemble":
            checkpoint = trial_dir.fold_models
        model, ckpt = load_checkpoint(checkpoint)
        test = data.test() if test is None else test
        outputs = predict_checkpoint(model, ckpt, data, test, spec.training.batch_size, device)
        names = data.class_names if data.task == "classification" else data.target_names
        report[role] = {
            "trial": trial.number,
            "validation": trial.value,
            "final": how,
            "params": trial.params,
            **evaluation_report(data.task, outputs, test.targets, names),
        }
    if report:
        results.write_json(results.test, report)
        study.set_user_attr(trials.TEST, report)
    keep = {t.number for t in chosen.values()}
    for overtaken in results.trial_folders():  # their fold models are no longer tested
        if overtaken.number not in keep and overtaken.fold_models.is_file():
            overtaken.fold_models.unlink()
    return report


def refit_trial(folder: Path, trial: optuna.trial.FrozenTrial, init_from: Path | None) -> Path:
    """Train a trial's configuration again on train+validation, for its best epoch (the mean
    of its folds'), from the same seed; saved as `refit.pt` beside its checkpoint."""
    trial_dir = StudyFolder(folder).trial(trial.number)
    path = trial_dir.refit
    if path.is_file():
        return path
    resolved = Spec.model_validate(yaml.safe_load(trial_dir.config.read_text()))
    data = prepare(resolved.resolved_data)
    epochs = max(1, int(trial.user_attrs.get(trials.BEST_EPOCH, resolved.training.max_epochs)))
    training = resolved.training.model_copy(update={"max_epochs": epochs, "patience": None})
    torch.manual_seed(training.seed)
    model = build(resolved, data)
    if init_from is not None:
        load_backbone(model, init_from)
    result = fit(
        model,
        selection.refit_data(data),
        training,
        resolved.metric,
        resolved.direction,
        validate=False,
    )
    save_checkpoint(path, resolved, data, model, result)
    return path

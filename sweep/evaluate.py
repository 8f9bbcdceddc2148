"""The test split, once: the best and the reference trial scored as `selection.final` says.

    report = evaluate_on_test(study, folder, data, spec, notes, final="ensemble")

The test split is loaded here and nowhere during the search. Each of the two trials is
tested once, the same way: the mean of its fold models (`ensemble`), its configuration
retrained on train+validation (`refit`, see `refit_trial`) or its own model (`model`); a
result already stored for the same trial and the same way is kept, never measured again.

With `ensemble_selection`, the two trials are tested as the members are (`refit` with
`ensemble_refit`, else `model`, or with folds the mean of their fold models), and an
ensemble of trials is chosen on the complete trials' out-of-fold predictions
(sweep.ensemble, the test split unseen) and tested beside them, each member's own test
score with it: test.json's "ensemble", and `ensemble.pt` for `sweep predict`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
import yaml

from sweep import ensemble, selection, trials
from sweep.checkpoints import (
    build,
    load_checkpoint,
    predict_checkpoint,
    read_checkpoint,
    save_checkpoint,
    save_ensemble,
)
from sweep.data import PreparedData, prepare
from sweep.metrics import evaluation_report
from sweep.results import StudyFolder, tested_as
from sweep.spec import DataSpec, Spec
from sweep.train import FitResult, fit, pick_device
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
    own model ("model"); with "ensemble_selection", their own models and an ensemble of
    trials (see `test_ensemble`).

    The results go to `test.json` and into the study itself, so that a report on any
    machine sharing the storage has them. A trial that ran on another machine (its
    checkpoint is there) is tested by a `sweep run` there: a note says so.
    """
    complete = [t for t in study.trials if t.state == trials.STATES.COMPLETE]
    if not complete:
        return {}
    cpu_started = time.process_time()  # the refits and tests, for test.json's ensemble
    prepared = {data.spec.model_dump_json(): data}  # by data spec: each prepared once
    single = final
    if final == "ensemble_selection":  # the single trials as the ensemble's members are
        single = "refit" if spec.search.selection.ensemble_refit else "model"
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
    report, outputs_of = {}, {}  # role -> test outputs, for test_outputs.npz
    kept_outputs = _outputs_kept(results, data) if stored else {}
    for role, trial in chosen.items():
        before = stored.get(role, {})
        trial_dir = results.trial(trial.number)
        how = single
        if final == "ensemble_selection" and how == "model" and trial_dir.fold_models.is_file():
            how = "ensemble"  # a cross-validated member stands for its fold models: so does it
        stale = how == "refit" and REFIT_SCHEDULE not in before  # refitted the old way
        if before.get("trial") == trial.number and tested_as(before) == how and not stale:
            report[role] = before  # evaluated once, never again
            if role not in kept_outputs and trial_dir.tested_model().is_file():
                # tested before its outputs were kept: the same model predicts them again,
                # as its test did
                model, ckpt = load_checkpoint(trial_dir.tested_model())
                outputs_of[role] = predict_checkpoint(
                    model, ckpt, data, data.test(), spec.training.batch_size, device
                )
            continue
        checkpoint = trial_dir.checkpoint
        if not checkpoint.is_file():
            host = trial.user_attrs.get(trials.WORKER, {}).get("host", "another machine")
            notes.append(
                f"the {role} trial ({trial.number}) ran on {host}, and its checkpoint is there: "
                f"the same `sweep run` there tests it (or share --results between machines)"
            )
            continue
        if how == "ensemble" and not trial_dir.fold_models.is_file():
            notes.append(
                f"the {role} trial ({trial.number}) kept no fold models (it ran before they "
                f"were kept, or elsewhere): its configuration was refitted instead"
            )
            how = "refit"
        if how == "refit":
            checkpoint = refit_trial(folder, trial, init_from, prepared)
        elif how == "ensemble":
            checkpoint = trial_dir.fold_models
        model, ckpt = load_checkpoint(checkpoint)
        test = data.test() if test is None else test
        outputs = predict_checkpoint(model, ckpt, data, test, spec.training.batch_size, device)
        outputs_of[role] = outputs
        names = data.class_names if data.task == "classification" else data.target_names
        report[role] = {
            "trial": trial.number,
            "validation": trial.value,
            "final": how,
            **({REFIT_SCHEDULE: "search"} if how == "refit" else {}),
            "params": trial.params,
            **evaluation_report(data.task, outputs, test.targets, names),
        }
    if final == "ensemble_selection":
        tested = test_ensemble(
            study,
            folder,
            data,
            spec,
            notes,
            stored.get("ensemble"),
            init_from,
            prepared,
            cpu_started,
            outputs_of,
        )
        if tested:
            report["ensemble"] = tested
    if report:
        results.write_json(results.test, report)
        study.set_user_attr(trials.TEST, report)
        test = data.test()  # the outputs of the roles tested now; those of before are kept
        results.save_test_outputs(test.ids, test.targets, outputs_of, keep=set(report))
    keep = {t.number for t in chosen.values()}
    if final == "ensemble_selection":  # and every trial that can still be a member
        keep |= {t.number for t in ensemble_candidates(study, spec)}
    # a trial still running elsewhere (a shared study) may have written its fold models
    # before it is marked complete: only finished trials lose theirs
    finished = {t.number for t in study.trials if t.state.is_finished()}
    for overtaken in results.trial_folders():  # their fold models are no longer tested
        if overtaken.number in finished - keep and overtaken.fold_models.is_file():
            overtaken.fold_models.unlink()
    return report


def test_ensemble(
    study: optuna.Study,
    folder: Path,
    data: PreparedData,
    spec: Spec,
    notes: list[str],
    stored: dict[str, Any] | None = None,
    init_from: Path | None = None,
    prepared: dict[str, PreparedData] | None = None,
    cpu_started: float | None = None,
    outputs_of: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Choose an ensemble of the complete trials on their out-of-fold predictions and test
    it, with each member's own test score; `ensemble.pt` holds it for `sweep predict`, and
    `outputs_of["ensemble"]` its outputs on the test split (where it was tested now).

    With `search.selection.ensemble_refit`, each member is its configuration retrained on
    train+validation for its best epoch (`refit_trial`), as the pooled-features baseline
    is: the weights stay those chosen on the held-out predictions of the trials' own models.
    `prepared`: data already prepared, by data spec (`prepared_for`); `cpu_started`: the
    process time the test began at (the best and reference trial's refits count too).

    Without refit, a cross-validated member is the mean of its fold models (its
    `fold_models`, kept for every complete trial: `selection.fold_models_kept`), k models
    that together trained on every track, whose predictions of the tracks each held out
    chose the weights; a trial without them (run before they were kept) is its best fold's
    model.

    Candidates: the `ENSEMBLE_CANDIDATES` best complete trials whose checkpoint and held-out
    predictions are in `folder` (a trial that ran on another machine is left out, and a note
    says so). A stored result with the same members and weights is kept, not measured again.
    Returns {} where no trial can be a member.
    """
    results = StudyFolder(folder)
    complete = ensemble_candidates(study, spec)
    candidates, targets, elsewhere = held_out_outputs(results, [t.number for t in complete])
    if elsewhere:
        notes.append(
            f"the ensemble of trials left out trials {', '.join(map(str, elsewhere))}: their "
            f"checkpoint or held-out predictions are not in {folder} (run elsewhere or before "
            f"they were kept)"
        )
    if not candidates:
        return {}
    chosen_by = spec.search.selection
    weights = ensemble.select(
        candidates,
        targets,
        data.task,
        spec.metric,
        spec.direction,
        rounds=chosen_by.ensemble_size,
        bags=chosen_by.ensemble_bags,
        seed=spec.training.seed,
    )
    chosen = [[n, w] for n, w in weights.items()]
    refit = chosen_by.ensemble_refit
    same = (
        stored
        and [[m["trial"], m["weight"]] for m in stored.get("members", [])] == chosen
        and stored.get("refit", False) == refit
        and (not refit or REFIT_SCHEDULE in stored)  # else refitted the old way: again
    )
    if same and results.ensemble.is_file():
        if outputs_of is not None and "ensemble" not in _outputs_kept(results, data):
            # tested before its outputs were kept: the same members predict them once more
            saved, kept = load_checkpoint(results.ensemble)
            prepared = {data.spec.model_dump_json(): data} if prepared is None else prepared
            device = pick_device(spec.training.device)
            outputs_of["ensemble"] = ensemble.blend(
                {i: m["weight"] for i, m in enumerate(kept["members"])},
                {
                    i: member_outputs(model, m["checkpoint"], data, prepared, device)
                    for i, (model, m) in enumerate(zip(saved.models, kept["members"], strict=True))
                },
            )
        return stored  # chosen and tested once, never again
    by_number = {t.number: t for t in complete}
    test, device = data.test(), pick_device(spec.training.device)
    names = data.class_names if data.task == "classification" else data.target_names
    members, outputs, member_checkpoints = [], {}, []
    prepared = {data.spec.model_dump_json(): data} if prepared is None else prepared
    cpu_started = time.process_time() if cpu_started is None else cpu_started
    for number, weight in weights.items():
        trial_dir = results.trial(number)
        if refit:
            checkpoint = refit_trial(folder, by_number[number], init_from, prepared)
        else:
            checkpoint = trial_dir.own_model()
        cross_validated = trials.FOLD_VALUES in by_number[number].user_attrs
        if checkpoint == trial_dir.checkpoint and cross_validated:
            notes.append(
                f"ensemble member {number} kept no fold models (it ran before they were kept "
                f"for every trial): it is tested as its best fold's model"
            )
        model, ckpt = load_checkpoint(checkpoint)
        folds_in = len(ckpt.get("fold_state_dicts") or [])
        how_tested = "refit" if refit else f"{folds_in} fold models" if folds_in else "checkpoint"
        outputs[number] = member_outputs(model, ckpt, data, prepared, device)
        scores = evaluation_report(data.task, outputs[number], test.targets, names)
        members.append(
            {
                "trial": number,
                "weight": weight,
                "backbone": ckpt["spec"]["model"]["backbone"],
                "validation": by_number[number].value,
                "tested_as": how_tested,  # "refit", "k fold models" (their mean), "checkpoint"
                **{k: v for k, v in scores.items() if k in MEMBER_SCORES},
            }
        )
        member_checkpoints.append((number, weight, ckpt))
    save_ensemble(results.ensemble, member_checkpoints)
    held_out_value = ensemble.score_key(
        ensemble.blend(weights, candidates), targets, data.task, spec.metric, "maximize"
    )[0]
    blended = ensemble.blend(weights, outputs)
    if outputs_of is not None:
        outputs_of["ensemble"] = blended
    return {
        "final": "ensemble_selection",
        "trial": None,
        "members": members,
        "candidates": len(candidates),
        "rounds": chosen_by.ensemble_size,
        "bags": chosen_by.ensemble_bags,
        "refit": refit,
        **({REFIT_SCHEDULE: "search"} if refit else {}),
        "cpu_seconds": time.process_time() - cpu_started,  # every refit and test of the study
        "validation": held_out_value,  # the ensemble's score on the held-out predictions
        **evaluation_report(data.task, blended, test.targets, names),
    }


def member_outputs(
    model: torch.nn.Module,
    ckpt: dict,
    data: PreparedData,
    prepared: dict[str, PreparedData],
    device: torch.device,
) -> np.ndarray:
    """One ensemble member's outputs on the study's test tracks, its data prepared as its
    own checkpoint says (a trial may search the data: crops, windows...)."""
    member_data = prepared_for(Spec.model_validate(ckpt["spec"]).resolved_data, prepared)
    batch_size = int(ckpt["spec"]["training"]["batch_size"])
    return predict_checkpoint(model, ckpt, member_data, member_data.test(), batch_size, device)


def _outputs_kept(results: StudyFolder, data: PreparedData) -> dict[str, np.ndarray]:
    """test_outputs.npz's roles, where it holds this test split's ({} else)."""
    saved = results.read_test_outputs() or {}
    ids = np.asarray(data.test().ids).astype(str)
    return saved if "ids" in saved and np.array_equal(saved["ids"], ids) else {}


ENSEMBLE_CANDIDATES = 50  # auto-sklearn's ensemble_nbest
# In a refitted test result: its refits kept the search's learning-rate schedule (b91a787).
# A result without it was refitted with the cosine squeezed into the best epoch: tested again.
REFIT_SCHEDULE = "refit_schedule"
MEMBER_SCORES = ("n", "accuracy", "macro_f1", "weighted_f1", "spearman", "per_target")


def held_out_outputs(
    results: StudyFolder, numbers: list[int], need_checkpoint: bool = True
) -> tuple[dict[int, np.ndarray], np.ndarray | None, list[int]]:
    """The trials' outputs on the tracks they did not train on, all in one order (by track
    id), in the order of `numbers`: ({trial number: outputs}, their targets, the trials left
    out). Left out: a trial without its held-out predictions (or, with `need_checkpoint`,
    its checkpoint) in the folder, and one whose held-out tracks are not the first's."""
    outputs, targets, ids, left_out = {}, None, None, []
    for number in numbers:
        trial_dir = results.trial(number)
        if not trial_dir.validation_outputs.is_file() or (
            need_checkpoint and not trial_dir.checkpoint.is_file()
        ):
            left_out.append(number)
            continue
        with np.load(trial_dir.validation_outputs) as held_out:
            order = np.argsort(held_out["ids"], kind="stable")  # by track id: one order for all
            if ids is None:
                ids, targets = held_out["ids"][order], held_out["targets"][order]
            elif not np.array_equal(held_out["ids"][order], ids):
                left_out.append(number)  # validated on other tracks: not comparable
                continue
            outputs[number] = held_out["outputs"][order]
    return outputs, targets, left_out


def ensemble_candidates(study: optuna.Study, spec: Spec) -> list[optuna.trial.FrozenTrial]:
    """The complete trials an ensemble of trials chooses from: the `ENSEMBLE_CANDIDATES`
    best, the best first."""
    complete = [t for t in trials.shown(study.trials) if t.state == trials.STATES.COMPLETE]
    complete.sort(key=lambda t: t.value, reverse=spec.direction == "maximize")
    return complete[:ENSEMBLE_CANDIDATES]


def prepared_for(data_spec: DataSpec, prepared: dict[str, PreparedData]) -> PreparedData:
    """The data of `data_spec`, prepared once: kept in `prepared` by data spec."""
    key = data_spec.model_dump_json()
    if key not in prepared:
        prepared[key] = prepare(data_spec)
    return prepared[key]


def refit_trial(
    folder: Path,
    trial: optuna.trial.FrozenTrial,
    init_from: Path | None,
    prepared: dict[str, PreparedData] | None = None,
) -> Path:
    """A trial's configuration trained again on train+validation (`refit_model`), saved as
    `refit.pt` beside its checkpoint, once. `prepared`: data already prepared, by data spec
    (an ensemble's members share it).

    A `refit.pt` without `refit_epochs` was made before the refit kept the search's
    schedule (it squeezed the whole cosine into the best epoch): it is made again."""
    trial_dir = StudyFolder(folder).trial(trial.number)
    path = trial_dir.refit
    if path.is_file() and "refit_epochs" in read_checkpoint(path):
        return path
    resolved = Spec.model_validate(yaml.safe_load(trial_dir.config.read_text()))
    data = prepared_for(resolved.resolved_data, {} if prepared is None else prepared)
    best_epoch = trial.user_attrs.get(trials.BEST_EPOCH, resolved.training.max_epochs)
    model, result = refit_model(resolved, data, best_epoch, init_from)
    save_checkpoint(path, resolved, data, model, result, refit_epochs=len(result.history))
    return path


def refit_model(
    resolved: Spec, data: PreparedData, best_epoch: int, init_from: Path | None = None
) -> tuple[torch.nn.Module, FitResult]:
    """A trial's configuration (`resolved`) trained again on train+validation, for its best
    epoch (the mean of its folds'), from the same seed, with the warm-up and cosine learning
    rates the search gave it up to that epoch (`fit`'s `epochs`)."""
    epochs = min(max(1, int(best_epoch)), resolved.training.max_epochs)
    training = resolved.training.model_copy(update={"patience": None})
    torch.manual_seed(training.seed)
    model = build(resolved, data)
    if init_from is not None:
        load_backbone(model, init_from, data)
    result = fit(
        model,
        selection.refit_data(data),
        training,
        resolved.metric,
        resolved.direction,
        validate=False,
        epochs=epochs,  # the search's schedule, stopped at its best epoch
    )
    return model, result

"""benchmarks/studies.py pruning: the figures of studies already run, for one seed and
summed over seeds (each label's k-th study paired with the k-th study without pruning)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.revalidation import chosen_configuration, configuration_key
from benchmarks.studies import journal_study, pruning_figures, pruning_over_seeds, run_pruning
from sweep.results import StudyFolder
from sweep.run import run_study
from sweep.specfile import load_spec
from tests.conftest import tiny_spec, write_tiny_layout


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Two seeds of a tiny study without pruning and with successive halving."""
    tmp = tmp_path_factory.mktemp("pruning_benchmark")
    tiny_root = write_tiny_layout(tmp / "data")
    folders = []
    for seed in (0, 1):
        for label, pruner in (
            ("none", {"name": "none"}),
            ("halving", {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2}),
        ):
            spec = tiny_spec(
                tmp,
                tiny_root,
                name=f"{label}{seed}.yaml",
                training={"max_epochs": 4, "batch_size": 4, "lr": 1e-2, "patience": None},
                search={
                    "n_trials": 6,
                    "sampler": {"name": "random", "seed": seed},
                    "pruner": pruner,
                    "selection": {"folds": 1, "final": "model"},
                    "space": {"training.lr": {"low": 1e-4, "high": 1e-1, "log": True}},
                },
            )
            folders.append((label, run_study(spec, tmp / f"{label}{seed}").folder))
    return folders


def test_one_seed_gives_epochs_best_and_test_against_no_pruning(studies):
    runs = pruning_figures(dict(studies[:2]))
    off, on = runs["none"], runs["halving"]
    assert on["pruned"] > 0 and off["pruned"] == 0
    assert on["epoch_reduction"] == pytest.approx(off["epochs"] / on["epochs"])
    assert on["best_difference"] == pytest.approx(on["best_validation"] - off["best_validation"])
    assert 0 <= on["test"] <= 1 and 0 <= off["test"] <= 1  # accuracy of the chosen model
    assert on["test_difference"] == pytest.approx(on["test"] - off["test"])


def test_seeds_are_paired_in_order_and_summed(studies):
    out = pruning_over_seeds(studies)
    seeds = [pruning_figures(dict(studies[i : i + 2])) for i in (0, 2)]
    assert out["per_seed"] == seeds
    halving = out["over_seeds"]["halving"]
    assert halving["seeds"] == 2
    assert halving["epoch_reduction"] == pytest.approx(
        sum(s["none"]["epochs"] for s in seeds) / sum(s["halving"]["epochs"] for s in seeds)
    )
    assert halving["mean_best_difference"] == pytest.approx(
        sum(s["halving"]["best_difference"] for s in seeds) / 2
    )
    assert halving["mean_test_difference"] == pytest.approx(
        sum(s["halving"]["test_difference"] for s in seeds) / 2
    )
    differences = [s["halving"]["best_difference"] for s in seeds]
    assert halving["best_difference_se"] == pytest.approx(abs(differences[0] - differences[1]) / 2)


def test_studies_run_alike_are_like_for_like(studies):
    runs = pruning_figures(dict(studies[:2]))
    assert runs["halving"]["unlike_none"] == [] and runs["none"]["unlike_none"] == []
    assert pruning_over_seeds(studies)["over_seeds"]["halving"]["like_for_like"] is True


def test_a_study_run_on_another_processor_is_said_not_like_for_like(studies, tmp_path):
    # the same command and seeds trained the reference to 0.656 on one machine and 0.650 on
    # another: a pair whose environments differ is flagged, not silently differenced
    other = tmp_path / studies[1][1].name  # a study folder is named after its study
    shutil.copytree(studies[1][1], other)
    environment = json.loads((other / "environment.json").read_text())
    ran = environment["cpu_capability"]
    environment["cpu_capability"] = "AVX512" if ran != "AVX512" else "AVX2"
    (other / "environment.json").write_text(json.dumps(environment))

    runs = pruning_figures({"none": studies[0][1], "halving": other})
    assert runs["halving"]["unlike_none"] == [
        f"cpu_capability: {environment['cpu_capability']} against {ran}"
    ]
    over = pruning_over_seeds([studies[0], ("halving", other), *studies[2:]])
    assert over["over_seeds"]["halving"]["like_for_like"] is False

    # the command's figures say so too, in a warning line beside them
    done = subprocess.run(
        [sys.executable, "benchmarks/studies.py", "pruning"]
        + ["--from", f"none={studies[0][1]}", "--from", f"halving={other}"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"]["halving"]["unlike_none"]
    assert (
        f"warning: halving did not run as none did: cpu_capability: "
        f"{environment['cpu_capability']} against {ran}: their difference is not like for like"
    ) in done.stderr


def test_a_label_without_a_study_per_seed_is_refused(studies):
    with pytest.raises(ValueError, match="as many folders as none"):
        pruning_over_seeds(studies[:3])


def test_run_pruning_runs_every_pruner_once_per_seed(tmp_path):
    root = write_tiny_layout(tmp_path / "data")
    tiny_spec(
        tmp_path,
        root,
        training={"max_epochs": 3, "batch_size": 4, "lr": 1e-2, "patience": None},
        search={
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
            "selection": {"folds": 1, "final": "model"},
            "space": {"training.lr": {"low": 1e-4, "high": 1e-1, "log": True}},
        },
    )
    out = run_pruning(
        root,
        spec=str(tmp_path / "tiny.yaml"),
        trials=4,
        pruners=("successive_halving:min_resource=1,reduction_factor=2",),
        keep=tmp_path / "kept",
        seeds=(3, 4),
    )
    assert out["seeds"] == [3, 4] and len(out["per_seed"]) == 2
    assert set(out["over_seeds"]) == {
        "none",
        "successive_halving:min_resource=1,reduction_factor=2",
    }
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert kept == ["run0-seed3", "run0-seed4", "run1-seed3", "run1-seed4"]
    for name in kept:  # each run with its seed
        spec = load_spec(tmp_path / "kept" / name / "tiny" / "spec.yaml")
        assert spec.search.sampler.seed == int(name[-1])
    none = [f["none"]["epochs"] for f in out["per_seed"]]
    assert none == [4 * 3, 4 * 3]  # no pruning, no early stopping: every epoch of every trial
    assert (
        out["target_met"]
        == out["over_seeds"]["successive_halving:min_resource=1,reduction_factor=2"]["target_met"]
    )


# ----------------------------------------------------------------- revalidation.py


def test_a_chosen_configuration_run_again_on_its_own_folds_scores_what_it_scored(studies, tmp_path):
    # split seed 0 is the studies' own split and training seed: the run of the chosen
    # configuration is then its trial again, to the same value; other seeds are other runs
    from benchmarks.revalidation import revalidate

    out = revalidate([dict(studies[:2])], (0,), tmp_path, log=lambda *_: None)
    figures = out["per_seed"][0]
    for label, folder in studies[:2]:
        mine = figures[label]
        study = journal_study(folder)
        assert mine["trial"] == StudyFolder(folder).best_trial_number()
        assert mine["revalidated"] == [pytest.approx(study.best_value)]
        assert mine["selection_lift"] == pytest.approx(0.0)
        assert 0 <= mine["retested"][0] <= 1
    halving, none = figures["halving"], figures["none"]
    assert halving["revalidated_difference"] == pytest.approx(
        halving["mean_revalidated"] - none["mean_revalidated"]
    )
    assert out["over_seeds"]["halving"]["mean_revalidated_difference"] == pytest.approx(
        halving["revalidated_difference"]
    )
    # each distinct configuration ran once per split seed, each in a folder of its own
    distinct = {configuration_key(chosen_configuration(f)[1]) for _, f in studies[:2]}
    assert len(list(tmp_path.glob("*/split0/results"))) == len(distinct)


def test_the_same_configuration_with_other_seeds_is_one_run():
    config = {
        "data": {"root": "x", "split_seed": 0},
        "task": {"kind": "classification"},
        "model": {"backbone": "lstm", "backbone_params": {"hidden_size": 32}},
        "training": {"lr": 1e-3, "seed": 0, "threads": 1},
        "search": {"sampler": {"seed": 0}},
    }
    reseeded = json.loads(json.dumps(config))
    reseeded["data"]["split_seed"] = 3
    reseeded["training"].update(seed=5, threads=2)
    reseeded["search"]["sampler"]["seed"] = 7
    reseeded["data"]["root"] = os.path.abspath("x")  # the same folder, spelt another way
    assert configuration_key(reseeded) == configuration_key(config)
    other = json.loads(json.dumps(config))
    other["training"]["lr"] = 1e-2
    assert configuration_key(other) != configuration_key(config)


def test_revalidation_without_a_study_without_pruning_is_a_one_line_error(studies):
    done = subprocess.run(
        [sys.executable, "benchmarks/revalidation.py", "--split-seed", "1"]
        + ["--from", f"halving={studies[1][1]}"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("--from takes LABEL=FOLDER, and one LABEL must be none")
    )
    assert "Traceback" not in done.stderr


def test_family_cost_says_where_the_budget_went(studies):
    """benchmarks/studies.py quality: each family's trials and CPU seconds, every finished
    trial counted once (here one family: the tiny spec's backbone)."""
    from benchmarks.studies import _family_cost

    folder = studies[1][1]
    study = StudyFolder(folder).load_study()
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    cost = _family_cost(study, folder)
    assert list(cost) == [load_spec(folder / "spec.yaml").model.backbone]
    (entry,) = cost.values()
    assert entry["trials"] == len(finished)
    assert entry["complete"] == sum(t.state.name == "COMPLETE" for t in finished)
    assert entry["cpu_seconds"] == pytest.approx(sum(t.user_attrs["cpu_seconds"] for t in finished))
    assert entry["cpu_seconds"] > 0

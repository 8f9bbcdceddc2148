"""Seconds per epoch of every registered backbone on full-resolution crops, and its size.

    python3 benchmarks/backbones.py --data-root ../shared/data/emotify_full
    python3 benchmarks/backbones.py --backbone short_chunk_res --backbone cnn --epochs 3

Each backbone is trained with its own defaults (the lab's LSTM and CNN with the reference
configuration of their shipped specs) by sweep's own loop (`sweep.train.fit`) on the genre
data at full resolution: random crops of `--crop` frames per track and epoch, batch 16,
AdamW, the validation split evaluated as the mean over each track's windows, every core
(torch's default threads). Seconds are the median over the epochs (the first included: it
is what a trial pays); CPU seconds are the process's. One backbone after another, nothing
else running: timings taken beside other work are not comparable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# the reference configurations of the lab's models, as their shipped specs give them
LAB_DEFAULTS = {
    "lstm": {"hidden_size": 128, "num_layers": 2, "bidirectional": True, "pooling": "last"},
    "cnn": {"channels": [32, 64, 128, 256], "kernel_sizes": [5, 5, 3, 3]},
}


def spec_for(backbone: str, data_root: Path, crop: int, features: str, epochs: int):
    from sweep.spec import Spec

    return Spec.model_validate(
        {
            "study": f"bench_{backbone}",
            "data": {
                "dataset": "fma_genre",
                "root": str(data_root),
                "features": features,
                "beat": False,
                "crop_frames": crop,
                "eval_windows": True,
            },
            "task": {"kind": "classification"},
            "model": {"backbone": backbone, "backbone_params": LAB_DEFAULTS.get(backbone, {})},
            "training": {
                "max_epochs": epochs,
                "batch_size": 16,
                "optimizer": "adamw",
                "lr": 1e-3,
                "patience": None,
            },
            "search": {"n_trials": 1, "selection": {"folds": 1, "final": "model"}},
        }
    )


def measure(backbone: str, data_root: Path, crop: int, features: str, epochs: int) -> dict:
    import torch

    from sweep.checkpoints import build
    from sweep.data import prepare
    from sweep.model import count_parameters
    from sweep.train import fit

    spec = spec_for(backbone, data_root, crop, features, epochs)
    data = prepare(spec.resolved_data)
    torch.manual_seed(0)
    model = build(spec, data)
    seconds: list[tuple[float, float]] = []
    clock = [time.perf_counter(), time.process_time()]

    def on_epoch(record, value) -> None:
        now = [time.perf_counter(), time.process_time()]
        seconds.append((now[0] - clock[0], now[1] - clock[1]))
        clock[:] = now

    fit(model, data, spec.training, spec.metric, spec.direction, on_epoch=on_epoch)
    return {
        "backbone": backbone,
        "parameters": count_parameters(model),
        "s_per_epoch": statistics.median(s for s, _ in seconds),
        "cpu_s_per_epoch": statistics.median(c for _, c in seconds),
        "epochs": len(seconds),
        "train_tracks": len(data.train),
        "validation_tracks": len(data.validation),
    }


def run(
    data_root: Path,
    backbones: list[str] | None = None,
    crop: int = 128,
    features: str = "mel",
    epochs: int = 3,
    log=print,
) -> dict:
    from sweep.registry import backbones as registry

    names = backbones or registry.names()
    rows = []
    for name in names:
        row = measure(name, data_root, crop, features, epochs)
        log(
            f"  {name:<18} {row['parameters']:>10,} params  {row['s_per_epoch']:6.2f} s/epoch"
            f"  (CPU {row['cpu_s_per_epoch']:.2f} s; {row['train_tracks']} train tracks)"
        )
        rows.append(row)
    return {"data_root": str(data_root), "crop": crop, "features": features, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", type=Path, default=REPO.parent / "shared" / "data" / "emotify_full"
    )
    parser.add_argument("--backbone", action="append", help="only these (repeatable)")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--features", default="mel")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = run(args.data_root, args.backbone, args.crop, args.features, args.epochs)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

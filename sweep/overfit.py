"""The reference report's sanity check: a model must be able to memorise one batch.

losses = overfit_one_batch(spec, steps=300)
memorised(losses)       # the loss fell to 5% of its first step, or below 0.01
"""

from __future__ import annotations

import numpy as np
import torch

from sweep.checkpoints import build, check_task
from sweep.data import prepare
from sweep.spec import Spec
from sweep.train import pick_device


def overfit_one_batch(spec: Spec, steps: int) -> list[float]:
    """Train the spec's reference configuration on its first training batch; the losses.

    Dropout is left as configured: a healthy model still drives the loss towards zero.
    """
    data = prepare(spec.resolved_data)
    check_task(spec, data)
    torch.manual_seed(spec.training.seed)
    device = pick_device(spec.training.device)
    model = build(spec, data).to(device)
    rng = np.random.default_rng(spec.training.seed)
    x, lengths, y = next(data.batches(data.train, spec.training.batch_size, rng=rng))
    xb, lb, yb = (
        torch.from_numpy(x).to(device),
        torch.from_numpy(lengths),
        torch.from_numpy(y).to(device),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=max(spec.training.lr, 1e-3))
    model.train()
    losses = []
    for _ in range(steps):
        loss = model.loss(model(xb, lb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def memorised(losses: list[float]) -> bool:
    """Whether the check passes: the last loss is at most 5% of the first step's, or
    below 0.01 (a loss that starts near zero cannot fall by 95%)."""
    final = losses[-1]
    return final <= 0.05 * losses[0] or final < 1e-2

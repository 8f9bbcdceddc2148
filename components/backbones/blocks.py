"""2-D building blocks over (frequency, time) images, blind to the frames past a track's end.

Shared by the 2-D backbone families (`cnn`, `short_chunk`, `crnn`). An image is
(B, C, H, T): H frequency rows, T time steps, of which each track's first `length` are
valid. Every block keeps three rules, so that padding never changes the output, whatever its
value and however much of it there is:

- before each convolution, padded steps are set to 0, so a "same" convolution sees at a
  track's end exactly the zeros it would see at the end of the unpadded track;
- batch normalisation takes its training statistics from valid steps only
  (`MaskedBatchNorm2d`);
- pooling reads valid steps only and halves the valid length (floor, at least 1); it uses
  `ceil_mode`, so inputs shorter than 2**blocks steps (beat-synchronised tracks can be 4
  steps long) and few frequency rows (12 chroma bins) keep at least one step
  (`masked_pool`).

A block's output may hold nonzero values past the new valid length (a pooling window that
straddles a track's end); the next block masks its input, and a global pooling must mask
too (`valid_mask`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweep.model import valid_steps

POOLS = ("max", "avg")


def valid_mask(lengths: Tensor, image: Tensor) -> Tensor:
    """(B, 1, 1, T) float mask of the valid time steps of a (B, C, H, T) image."""
    return valid_steps(lengths, image.shape[3], image.device)[:, None, None, :].to(image.dtype)


def masked_pool(
    image: Tensor, lengths: Tensor, pool: str = "max", time: bool = True
) -> tuple[Tensor, Tensor]:
    """2 x 2 pooling (2 x 1, frequency only, when `time` is false) of valid steps only.

    Args:
        image: (B, C, H, T), every value >= 0 and padded steps 0 (a ReLU's masked output):
            a window's maximum is then a valid step's.
        lengths: (B,) valid steps of each track.
        pool: "max" or "avg" (the mean of each window's valid steps).
        time: Also halve the time axis, and the lengths with it.

    Returns:
        The pooled (B, C, ceil(H/2), ceil(T/2) or T) image and its valid lengths:
        lengths // 2, at least 1, when `time`, else the same.
    """
    size = (2, 2) if time else (2, 1)
    if pool == "max":
        return F.max_pool2d(image, size, ceil_mode=True), _halved(lengths, time)
    pooled = F.avg_pool2d(image, size, ceil_mode=True)
    if time:
        # The mean over the valid steps of each window: a window that straddles a track's
        # end (a track of 1 step) must not count the padded step. `fraction` is 1, 1/2 or
        # 0 (windows past the end, masked later: the clamp avoids 0 / 0).
        fraction = F.avg_pool2d(valid_mask(lengths, image), (1, 2), ceil_mode=True)
        pooled = pooled / fraction.clamp_min(0.5)
    return pooled, _halved(lengths, time)


def _halved(lengths: Tensor, time: bool) -> Tensor:
    return (lengths // 2).clamp_min(1) if time else lengths


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics come from the valid (unpadded) frames only.

    With every frame valid it computes what `nn.BatchNorm2d` does, and it has the same
    parameters and buffers. When a batch has a single valid value per channel (one track,
    one step, one frequency band) its variance is undefined, and `nn.BatchNorm2d` raises;
    this one normalises with the running statistics instead and leaves them as they are.
    """

    def forward(self, image: Tensor, valid: Tensor) -> Tensor:  # type: ignore[override]
        """`image` (B, C, H, T); `valid` (B, 1, 1, T), 1.0 for valid frames, 0.0 for padded."""
        count = valid.sum() * image.shape[2]
        if not self.training or count < 2:
            return F.batch_norm(
                image, self.running_mean, self.running_var, self.weight, self.bias, eps=self.eps
            )
        mean = (image * valid).sum(dim=(0, 2, 3)) / count
        centred = image - mean[:, None, None]
        var = (centred.square() * valid).sum(dim=(0, 2, 3)) / count
        with torch.no_grad():
            # Running variance is unbiased, as in nn.BatchNorm2d; normalisation is not.
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return centred * scale[:, None, None] + self.bias[:, None, None]


class ConvBlock(nn.Module):
    """Conv2d + BatchNorm2d (optional) + ReLU + 2 x 2 pooling, blind to padded frames.

    Args:
        in_channels: Channels in.
        out_channels: Channels out.
        kernel_size: Square convolution kernel size.
        batch_norm: Whether to normalise the convolution's output.
        pool: "max" or "avg".
        time_pool: Pool over time too (2 x 2); false pools over frequency only (2 x 1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        batch_norm: bool,
        pool: str,
        time_pool: bool = True,
    ) -> None:
        super().__init__()
        # A bias before batch normalisation would be cancelled by its mean.
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding="same", bias=not batch_norm
        )
        self.norm = MaskedBatchNorm2d(out_channels) if batch_norm else None
        self.pool = pool
        self.time_pool = time_pool

    def forward(self, image: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C_in, H, T) and valid lengths in; (B, C_out, ceil(H/2), ceil(T/2)) and the
        halved lengths (at least 1) out (T and the same lengths without `time_pool`)."""
        valid = valid_mask(lengths, image)
        image = self.conv(image * valid)
        if self.norm is not None:
            image = self.norm(image, valid)
        image = torch.relu(image) * valid
        return masked_pool(image, lengths, self.pool, self.time_pool)


class ResidualBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm and a shortcut (He et al. 2016), masked.

    relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)), the shortcut being the identity when
    the channels stay, else a 1 x 1 convolution with batch norm. It keeps the image's size;
    pool after it with `masked_pool`.

    Args:
        in_channels: Channels in.
        out_channels: Channels out.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # No biases: each convolution is followed by batch normalisation.
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = MaskedBatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = MaskedBatchNorm2d(out_channels)
        if in_channels == out_channels:
            self.project, self.project_norm = None, None
        else:
            self.project = nn.Conv2d(in_channels, out_channels, 1, bias=False)
            self.project_norm = MaskedBatchNorm2d(out_channels)

    def forward(self, image: Tensor, lengths: Tensor) -> Tensor:
        """(B, C_in, H, T) and valid lengths in; (B, C_out, H, T) out, >= 0, padded steps 0."""
        valid = valid_mask(lengths, image)
        image = image * valid
        inner = torch.relu(self.norm1(self.conv1(image), valid)) * valid
        inner = self.norm2(self.conv2(inner), valid)
        shortcut = image
        if self.project is not None:
            shortcut = self.project_norm(self.project(image), valid)
        return torch.relu(inner + shortcut) * valid

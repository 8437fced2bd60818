# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The reconstruction decoder: private + invariant deepest features -> the input image.

Five ConvTranspose(3x3, stride 2) + BN + LeakyReLU(0.2) stages and a 1x1 conv to RGB, no skip
connections (so the image can only be rebuilt from what the two 1/32 features carry). Module
names follow the reference (`convt5`..`convt1`, `convtf`) so its weights load key for key.
"""

import torch
from torch import nn

CHANNELS = (256, 128, 64, 64, 64)


def _upsample_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    stage = nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, 2, 1, output_padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2, inplace=True))
    nn.init.normal_(stage[0].weight, 0.0, 1e-3)
    return stage


class ReconstructionDecoder(nn.Module):
    """Bx(C)xH/32xW/32 -> Bx3xHxW (unbounded; the loss compares it with the [0, 1] input)."""

    def __init__(self, in_channels: int = 512) -> None:
        super().__init__()
        channels = (in_channels,) + CHANNELS
        for index in range(5):
            setattr(self, f'convt{5 - index}',
                    _upsample_stage(channels[index], channels[index + 1]))
        self.convtf = nn.Conv2d(CHANNELS[-1], 3, 1)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = code
        for index in range(5, 0, -1):
            x = getattr(self, f'convt{index}')(x)
        return self.convtf(x)

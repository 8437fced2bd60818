# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Monodepth2's pose decoder ("separate_resnet" with a pair of frames).

The last conv predicts 6 numbers for 2 frames (12 channels) because the released checkpoints
were trained that way; as in Monodepth2, only the first prediction is used.
"""

from typing import Tuple

import torch
from torch import nn

PREDICTED_FRAMES = 2


class PoseDecoder(nn.Module):
    """Deepest pose-encoder feature -> (axis-angle Bx3, translation Bx3), scaled by 0.01."""

    def __init__(self, num_ch_enc_last: int = 512) -> None:
        super().__init__()
        self.net = nn.ModuleList([
            nn.Conv2d(num_ch_enc_last, 256, 1),       # squeeze
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.Conv2d(256, 6 * PREDICTED_FRAMES, 1),
        ])
        self.relu = nn.ReLU()

    def forward(self, feature: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = feature
        for i, conv in enumerate(self.net):
            out = conv(out)
            if i < len(self.net) - 1:
                out = self.relu(out)
        out = 0.01 * out.mean(3).mean(2).view(-1, PREDICTED_FRAMES, 6)[:, 0]
        return out[:, :3], out[:, 3:]

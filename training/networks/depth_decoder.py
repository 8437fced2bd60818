# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Monodepth2's depth decoder: upconvs with skips and sigmoid disparity heads at scales 0..3.

Modules are kept in one `decoder` ModuleList in Monodepth2's order (upconv (4,0), (4,1), ...,
(0,1), then the heads for scales 0..3), so the authors' `depth.pth` loads key for key.
"""

from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

NUM_CH_DEC = (16, 32, 64, 128, 256)
NUM_SCALES = 4


class Conv3x3(nn.Module):
    """3x3 convolution with reflection padding (keeps borders free of zero-padding artefacts)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ConvBlock(nn.Module):
    """Conv3x3 followed by ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = Conv3x3(in_channels, out_channels)
        self.nonlin = nn.ELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlin(self.conv(x))


class DepthDecoder(nn.Module):
    """Five encoder levels -> list of sigmoid disparities, index = scale (0 = input size)."""

    def __init__(self, num_ch_enc: Sequence[int]) -> None:
        super().__init__()
        if len(num_ch_enc) != 5:
            raise ValueError(f'need 5 encoder channel counts, got {list(num_ch_enc)}')
        blocks: List[nn.Module] = []
        for i in range(4, -1, -1):
            in_0 = num_ch_enc[-1] if i == 4 else NUM_CH_DEC[i + 1]
            blocks.append(ConvBlock(in_0, NUM_CH_DEC[i]))
            in_1 = NUM_CH_DEC[i] + (num_ch_enc[i - 1] if i > 0 else 0)
            blocks.append(ConvBlock(in_1, NUM_CH_DEC[i]))
        heads = [Conv3x3(NUM_CH_DEC[s], 1) for s in range(NUM_SCALES)]
        self.decoder = nn.ModuleList(blocks + heads)

    def forward(self, features: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Disparities in (0, 1) at scales 0..3 (scale s has 1/2**s of the input size)."""
        disps: List[torch.Tensor] = []
        x = features[-1]
        for step, i in enumerate(range(4, -1, -1)):
            x = self.decoder[2 * step](x)
            x = F.interpolate(x, scale_factor=2.0, mode='nearest')
            if i > 0:
                x = torch.cat([x, features[i - 1]], 1)
            x = self.decoder[2 * step + 1](x)
            if i < NUM_SCALES:
                disps.append(torch.sigmoid(self.decoder[10 + i](x)))
        return disps[::-1]

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CycleGAN networks (Zhu et al. 2017): ResNet generator and 70x70 PatchGAN discriminator.

Instance norm and reflection padding as in the published recipe: instance norm keeps the
translation independent of the batch, reflection padding avoids dark borders.
"""

import torch
from torch import nn


def _conv_norm_relu(cin: int, cout: int, **conv) -> list:
    return [nn.Conv2d(cin, cout, **conv), nn.InstanceNorm2d(cout), nn.ReLU(inplace=True)]


class ResnetBlock(nn.Module):
    """Two 3x3 convs with a skip: the generator edits the image instead of redrawing it."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), *_conv_norm_relu(channels, channels, kernel_size=3),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, kernel_size=3),
            nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, `n_blocks` residual blocks, two upsamplings, tanh.

    Input and output are RGB in [-1, 1]; height and width must be multiples of 4.
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        if n_blocks < 1 or ngf < 1:
            raise ValueError(f'need ngf >= 1 and n_blocks >= 1, got {ngf}, {n_blocks}')
        layers = [nn.ReflectionPad2d(3), *_conv_norm_relu(3, ngf, kernel_size=7)]
        for mult in (1, 2):
            layers += _conv_norm_relu(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2,
                                      padding=1)
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2,
                                          padding=1, output_padding=1),
                       nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ValueError(f'generator input size must be a multiple of 4, got {x.shape}')
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The 70x70 PatchGAN: a grid of real/fake scores, one per overlapping 70x70 patch.

    Judging patches rather than whole images models local texture (the look of night) and
    works at any resolution.
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(3, ndf, kernel_size=4, stride=2, padding=1),
                  nn.LeakyReLU(0.2, inplace=True)]
        cin = ndf
        for i in range(1, n_layers + 1):
            cout = ndf * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=1),
                       nn.InstanceNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Gaussian N(0, 0.02) initialisation of every conv, as in the published recipe."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

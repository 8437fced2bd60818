# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ResNet 18/34/50 trunks whose state_dict keys match torchvision's, without torchvision.

Keeping torchvision's key names lets ImageNet weights saved from torchvision (and the authors'
checkpoints, which embed torchvision ResNets) load directly. The classifier (`fc`) is not built:
depth and pose only use the convolutional features.
"""

import os
from pathlib import Path
from typing import Dict, List, Union

import torch
from torch import nn

from adds_ros.errors import UserFileNotFoundError, UserValueError

BLOCKS = {18: ('basic', [2, 2, 2, 2]), 34: ('basic', [3, 4, 6, 3]),
          50: ('bottleneck', [3, 4, 6, 3])}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet 18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class Bottleneck(nn.Module):
    """1x1 - 3x3 (strided) - 1x1 bottleneck with a residual connection (ResNet 50)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


def _downsample(inplanes: int, outplanes: int, stride: int) -> nn.Module:
    """Projection shortcut where the shape changes (torchvision keys `downsample.0/1`)."""
    if stride == 1 and inplanes == outplanes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False),
                         nn.BatchNorm2d(outplanes))


class ResNet(nn.Module):
    """ResNet trunk; `num_input_images` > 1 widens the first conv for stacked frames (pose)."""

    def __init__(self, num_layers: int = 18, num_input_images: int = 1) -> None:
        super().__init__()
        if num_layers not in BLOCKS:
            raise ValueError(f'num_layers must be one of {sorted(BLOCKS)}, got {num_layers}')
        kind, counts = BLOCKS[num_layers]
        block = BasicBlock if kind == 'basic' else Bottleneck
        self.num_layers = num_layers
        self.num_input_images = num_input_images
        self.conv1 = nn.Conv2d(3 * num_input_images, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for index, (planes, count) in enumerate(zip([64, 128, 256, 512], counts)):
            blocks = []
            for i in range(count):
                stride = 2 if (i == 0 and index > 0) else 1
                blocks.append(block(inplanes, planes, stride))
                inplanes = planes * block.expansion
            setattr(self, f'layer{index + 1}', nn.Sequential(*blocks))
        self.num_ch_enc = [64] + [c * block.expansion for c in (64, 128, 256, 512)]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def trunk(self, stem: torch.Tensor) -> List[torch.Tensor]:
        """Features [stem@1/2, layer1@1/4, ..., layer4@1/32] from the activated stem output."""
        features = [stem]
        features.append(self.layer1(self.maxpool(stem)))
        for layer in (self.layer2, self.layer3, self.layer4):
            features.append(layer(features[-1]))
        return features

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Five feature levels of an already normalised input."""
        return self.trunk(self.relu(self.bn1(self.conv1(x))))


def widen_first_conv(weight: torch.Tensor, num_input_images: int) -> torch.Tensor:
    """Repeat an RGB first-conv weight for stacked frames, divided so activations keep scale."""
    return torch.cat([weight] * num_input_images, 1) / num_input_images


def load_imagenet_weights(model: ResNet, path: Union[str, os.PathLike]) -> None:
    """Load a local torchvision-format ImageNet state_dict into `model` (never downloads).

    `fc.*` is dropped; the first conv is widened for multi-image models.
    """
    from adds_training.checkpoint import load_torch_file

    path = Path(path)
    if not path.is_file():
        raise UserFileNotFoundError(f'ImageNet weights not found: {path}')
    state: Dict[str, torch.Tensor] = load_torch_file(path, 'a torchvision ResNet state_dict')
    if not isinstance(state, dict) or 'conv1.weight' not in state:
        raise UserValueError(f'{path} is not a torchvision ResNet state_dict (no conv1.weight)')
    state = {k: v for k, v in state.items() if not k.startswith('fc.')}
    if model.num_input_images > 1:
        state['conv1.weight'] = widen_first_conv(state['conv1.weight'], model.num_input_images)
    expected = model.state_dict()
    wrong = [k for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if wrong:
        raise ValueError(f'{path}: shapes do not match ResNet-{model.num_layers} for {wrong[:5]}')
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'{path} does not fit ResNet-{model.num_layers}: missing {missing[:5]}, '
                         f'unexpected {unexpected[:5]}')

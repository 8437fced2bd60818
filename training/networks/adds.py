# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ADDS domain-separated model and the `DepthNet` view that inference needs.

Every image is split into a domain-invariant feature (shared encoder, drives depth) and a
private feature (one encoder per domain, carries illumination). The networks know only
tensors: `ADDSModel` has no forward of its own, and `adds_training.objectives.Objective` calls its
small methods (one network pass each) to compute a batch's losses. Export and evaluation only
need `DepthNet`.
"""

import dataclasses
from typing import List, Optional, Tuple

import torch
from torch import nn

from .depth_decoder import DepthDecoder
from .pose import PoseDecoder
from .recon_decoder import ReconstructionDecoder
from .resnet import load_imagenet_weights, ResNet

DOMAINS = ('day', 'night')
STEMS = ('shared', 'per_domain')
DEPTH_STEMS = ('shared', 'day', 'night')
CODE_CHANNELS = 64
MEAN, STD = 0.45, 0.225


def normalise(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> the network's input range (Monodepth2's constants)."""
    return (x - MEAN) / STD


def check_domain(domain: str) -> str:
    """Return `domain` or raise naming the allowed values."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    return domain


@dataclasses.dataclass
class ModelConfig:
    """Architecture of `ADDSModel`; stored in checkpoints under config['model']."""

    num_layers: int = 18
    stem: str = 'shared'
    pretrained_path: Optional[str] = None
    pose_num_layers: int = 18

    def __post_init__(self) -> None:
        if self.stem not in STEMS:
            raise ValueError(f'stem must be one of {STEMS}, got {self.stem!r}')


class InvariantEncoder(nn.Module):
    """The shared ResNet; with `per_domain` the night images get their own first conv + BN.

    The per-domain stem exists only to load the authors' checkpoints (see docs/model.md).
    """

    def __init__(self, num_layers: int = 18, per_domain: bool = False) -> None:
        super().__init__()
        self.encoder = ResNet(num_layers)
        self.per_domain = per_domain
        self.num_ch_enc = self.encoder.num_ch_enc
        if per_domain:
            self.night_conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.night_bn1 = nn.BatchNorm2d(64)

    def forward(self, x: torch.Tensor, domain: str = 'day') -> List[torch.Tensor]:
        """Five feature levels of a normalised input; `domain` picks the stem if per-domain."""
        if self.per_domain and check_domain(domain) == 'night':
            stem = self.night_bn1(self.night_conv1(x))
        else:
            stem = self.encoder.bn1(self.encoder.conv1(x))
        return self.encoder.trunk(self.encoder.relu(stem))


def use_image_statistics(net: nn.Module) -> nn.Module:
    """Make every BatchNorm normalise each image with its own statistics, in place.

    Each `BatchNorm2d` becomes an `InstanceNorm2d` with its affine weights: exactly the
    BatchNorm of a batch of one in training mode. A network trained with day and night as
    separate batches normalised each domain with that domain's statistics; the running average
    at test time is a day/night mix neither domain trained with, while one image's statistics
    are its own domain's, with no day/night flag needed (docs/model.md, "Domain batches").
    ONNX Runtime and TensorRT run InstanceNormalization natively.
    """
    for name, child in net.named_children():
        if isinstance(child, nn.BatchNorm2d):
            norm = nn.InstanceNorm2d(child.num_features, eps=child.eps, affine=True)
            with torch.no_grad():
                norm.weight.copy_(child.weight)
                norm.bias.copy_(child.bias)
            setattr(net, name, norm.to(child.weight.device))
        else:
            use_image_statistics(child)
    return net


class DepthNet(nn.Module):
    """Invariant encoder + depth decoder: RGB in [0, 1] -> disparities at scales 0..3.

    `stem` is 'shared' for the project's models, or 'day' / 'night' to pick one branch of a
    per-domain stem. Given `encoder` and `decoder`, it shares their parameters (a view).
    """

    def __init__(self, num_layers: int = 18, stem: str = 'shared',
                 encoder: Optional[InvariantEncoder] = None,
                 decoder: Optional[DepthDecoder] = None) -> None:
        super().__init__()
        if stem not in DEPTH_STEMS:
            raise ValueError(f'stem must be one of {DEPTH_STEMS}, got {stem!r}')
        self.encoder = encoder or InvariantEncoder(num_layers, per_domain=stem != 'shared')
        if self.encoder.per_domain != (stem != 'shared'):
            raise ValueError(f"stem {stem!r} does not match the encoder's "
                             f"{'per-domain' if self.encoder.per_domain else 'shared'} stem")
        self.decoder = decoder or DepthDecoder(self.encoder.num_ch_enc)
        self.stem = stem
        self.domain = 'night' if stem == 'night' else 'day'

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return self.decoder(self.encoder(normalise(x), self.domain))


class ADDSModel(nn.Module):
    """Invariant + private encoders, depth / reconstruction decoders, code projections, pose."""

    def __init__(self, config: Optional[ModelConfig] = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        self.invariant = InvariantEncoder(cfg.num_layers, per_domain=cfg.stem == 'per_domain')
        self.private = nn.ModuleDict({d: ResNet(cfg.num_layers) for d in DOMAINS})
        deepest = self.invariant.num_ch_enc[-1]
        self.depth_decoder = DepthDecoder(self.invariant.num_ch_enc)
        self.recon_decoder = ReconstructionDecoder(deepest)
        self.private_code = nn.ModuleDict(
            {d: nn.Conv2d(deepest, CODE_CHANNELS, 1) for d in DOMAINS})
        self.invariant_code = nn.Conv2d(deepest, CODE_CHANNELS, 1)
        self.pose_encoder = ResNet(cfg.pose_num_layers, num_input_images=2)
        self.pose_decoder = PoseDecoder(self.pose_encoder.num_ch_enc[-1])
        if cfg.pretrained_path:
            self.load_imagenet(cfg.pretrained_path)

    def load_imagenet(self, path: str) -> None:
        """Initialise every ResNet (and a per-domain night stem) from torchvision weights."""
        for resnet in (self.invariant.encoder, *self.private.values(), self.pose_encoder):
            load_imagenet_weights(resnet, path)
        if self.invariant.per_domain:
            self.invariant.night_conv1.load_state_dict(self.invariant.encoder.conv1.state_dict())
            self.invariant.night_bn1.load_state_dict(self.invariant.encoder.bn1.state_dict())

    def invariant_features(self, x: torch.Tensor, domain: str = 'day') -> List[torch.Tensor]:
        """Domain-invariant features (5 levels) of RGB in [0, 1]."""
        return self.invariant(normalise(x), check_domain(domain))

    def private_features(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """Return the deepest (1/32) feature of the domain's private encoder."""
        return self.private[check_domain(domain)](normalise(x))[-1]

    def depth(self, features: List[torch.Tensor]) -> List[torch.Tensor]:
        """Sigmoid disparities at scales 0..3 from invariant features."""
        return self.depth_decoder(features)

    def reconstruct(self, private4: torch.Tensor, invariant4: torch.Tensor) -> torch.Tensor:
        """Rebuild the input image from the sum of the private and invariant deepest features."""
        return self.recon_decoder(private4 + invariant4)

    def codes(self, private4: torch.Tensor, invariant4: torch.Tensor,
              domain: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """(private code, invariant code): 1x1 projections to 64 channels for orthogonality."""
        return self.private_code[check_domain(domain)](private4), self.invariant_code(invariant4)

    def pose(self, frame_a: torch.Tensor,
             frame_b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Axis-angle (Bx3) and translation (Bx3) of the camera motion from a to b.

        As a matrix (`geometry.pose_vec_to_mat`) it maps points in a's camera frame into b's.
        Frames must be in time order (a before b); RGB in [0, 1].
        """
        features = self.pose_encoder(normalise(torch.cat([frame_a, frame_b], 1)))
        return self.pose_decoder(features[-1])

    def depth_net(self, domain: str = 'day') -> DepthNet:
        """Return a `DepthNet` sharing this model's invariant encoder and depth decoder."""
        stem = check_domain(domain) if self.invariant.per_domain else 'shared'
        return DepthNet(self.config.num_layers, stem, self.invariant, self.depth_decoder)

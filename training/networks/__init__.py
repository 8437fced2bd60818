# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Networks: ResNet encoders, Monodepth2 depth/pose decoders, the ADDS domain-separated model.

Names are resolved lazily so that importing the package does not import torch.
"""

import importlib
from typing import Any

# BatchNorm statistics at test time: the running ones, or each image's own (use_image_statistics).
# Here, not in a module, so the training config names them without importing torch.
NORMALISATIONS = ('running', 'per_image')
_EXPORTS = {
    'ADDSModel': 'adds',
    'DepthNet': 'adds',
    'InvariantEncoder': 'adds',
    'ModelConfig': 'adds',
    'DepthDecoder': 'depth_decoder',
    'PoseDecoder': 'pose',
    'ReconstructionDecoder': 'recon_decoder',
    'ResNet': 'resnet',
    'load_imagenet_weights': 'resnet',
    'ImportReport': 'reference_import',
    'import_reference_checkpoint': 'reference_import',
    'use_image_statistics': 'adds',
    'load_depth_net': 'loading',
    'load_model': 'loading',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)

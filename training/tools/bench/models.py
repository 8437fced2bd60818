# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The networks a benchmark runs: a project checkpoint and its ONNX exports, one per size.

Speed does not depend on the weights, so without `--checkpoint` a randomly initialised ADDS
model (ResNet-18, the paper's) with RobotCar geometry stands in. Exports are kept in the work
folder and reused while they match the checkpoint's hash, so a second run starts measuring
at once.
"""

import logging
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from adds_ros.metadata import ModelMetadata

Size = Tuple[int, int]
LOGGER = logging.getLogger(__name__)


def random_checkpoint(path: Path, size: Size, num_layers: int = 18, seed: int = 0) -> Path:
    """Write a project checkpoint of a randomly initialised ADDS model with RobotCar geometry."""
    import torch

    from adds_training.checkpoint import checkpoint_dict, save_checkpoint
    from adds_training.export import robotcar_defaults
    from adds_training.networks import ADDSModel, ModelConfig

    torch.manual_seed(seed)
    model = ADDSModel(ModelConfig(num_layers=num_layers))
    meta = dict(robotcar_defaults(), height=size[0], width=size[1], note='random weights')
    save_checkpoint(path, checkpoint_dict(model, meta))
    return path


def export_for_size(checkpoint: Path, out: Path, size: Size,
                    camera: Optional[Size] = None) -> Path:
    """Export the depth graph at `size`, or reuse `out` if it was exported from this file.

    `camera` (height, width) exports the in-graph model for that camera size.
    """
    from adds_training.export import export_checkpoint
    from adds_training.checkpoint import file_hash

    if out.exists():
        try:
            meta = ModelMetadata.from_onnx(out)
            if meta.source_hash == file_hash([checkpoint]) and \
                    (meta.input_height, meta.input_width) == tuple(size) and \
                    (meta.camera_height, meta.camera_width) == tuple(camera or (0, 0)):
                return out
        except ValueError:
            pass  # not ours or broken: export again
    LOGGER.info(f'exporting {checkpoint.name} at {size[1]}x{size[0]} to {out}')
    export_checkpoint(checkpoint, out, height=size[0], width=size[1], camera=camera)
    return out


def prepare_models(work: Path, sizes: Sequence[Size], checkpoint: Optional[Path] = None
                   ) -> Tuple[Path, Dict[Size, Path]]:
    """Return (checkpoint, {size: ONNX file}), making whatever is missing in `work`."""
    work.mkdir(parents=True, exist_ok=True)
    if checkpoint is None:
        checkpoint = work / 'random_adds_resnet18.pt'
        if not checkpoint.exists():
            random_checkpoint(checkpoint, sizes[0])
    elif not Path(checkpoint).exists():
        raise FileNotFoundError(f'no checkpoint at {checkpoint}')
    checkpoint = Path(checkpoint)
    onnx = {tuple(size): export_for_size(checkpoint, work / f'{checkpoint.stem}_'
                                         f'{size[1]}x{size[0]}.onnx', size)
            for size in sizes}
    return checkpoint, onnx

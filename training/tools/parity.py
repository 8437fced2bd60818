# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds parity`: check that two backends or precisions give the same depth on real images.

FP16 engines on some Jetson TensorRT releases produce wrong depth while looking plausible; this
command is how a user finds out before deploying. Both models run through `DepthEstimator`
(same preprocessing), and the report gives the disparity error at network resolution and, on
depth at camera resolution, AbsRel of the model against the reference and the share of pixels
where the two agree within a factor 1.25 (the δ<1.25 accuracy, with the reference as truth).
The exit status is 1 when the worst disparity error exceeds --tolerance or the agreement falls
below --min-agreement.
"""

import argparse
import json
from dataclasses import asdict, dataclass, MISSING
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from tqdm import tqdm

from adds_ros import cli_config
from adds_ros.atomic import write_text_atomic
from adds_ros.backends import backend_choices
from adds_ros.estimator import DepthEstimator, DepthPrediction
from adds_ros.errors import UserValueError
from adds_ros.preprocess import image_files
from adds_ros.settings import check, param, same_as
from adds_ros.tools.engine_cli import EngineConfig


@dataclass
class Parity:
    """Agreement of one prediction (or the aggregate over images) with the reference."""

    disparity_max_abs: float
    disparity_mean_abs: float
    depth_abs_rel: float
    delta_agreement: float


def compare(model: DepthPrediction, reference: DepthPrediction) -> Parity:
    """Compare two predictions of the same image."""
    if model.disparity.shape != reference.disparity.shape:
        raise UserValueError(f'the models have different input sizes: '
                             f'{model.disparity.shape} vs {reference.disparity.shape}')
    error = np.abs(model.disparity.astype(np.float64) - reference.disparity)
    # in-graph models return camera-size disparity, NaN outside the crop on both sides; a NaN
    # on one side only is a broken prediction and counts as an infinite error
    error = np.nan_to_num(error[~(np.isnan(model.disparity) & np.isnan(reference.disparity))],
                          nan=np.inf)
    valid = np.isfinite(model.depth) & np.isfinite(reference.depth) & (reference.depth > 0)
    if not valid.any():
        raise UserValueError('the two depth maps share no valid pixel (do the crops differ?)')
    ours, theirs = model.depth[valid].astype(np.float64), reference.depth[valid]
    ratio = np.maximum(ours / theirs, theirs / ours)
    return Parity(float(error.max()), float(error.mean()),
                  float(np.mean(np.abs(ours - theirs) / theirs)), float(np.mean(ratio < 1.25)))


def aggregate(results: List[Parity]) -> Parity:
    """Worst max error, mean of the means, mean AbsRel, lowest agreement over images."""
    return Parity(max(r.disparity_max_abs for r in results),
                  float(np.mean([r.disparity_mean_abs for r in results])),
                  float(np.mean([r.depth_abs_rel for r in results])),
                  min(r.delta_agreement for r in results))


def estimator_options(path: Path, precision: str, other: Path,
                      calib: Optional[Path] = None,
                      workspace_mib: Optional[int] = None) -> Dict[str, object]:
    """Return the estimator options of one side: precision, INT8 calibration, geometry.

    A checkpoint borrows the ONNX file's geometry; INT8 takes its calibration images;
    `workspace_mib` picks the TensorRT engine built with that limit (unset: any).
    """
    options: Dict[str, object] = {'precision': precision}
    if precision == 'int8' and calib is not None:
        options['calib'] = calib
    if workspace_mib is not None:
        options['workspace_mib'] = workspace_mib
    if path.suffix.lower() in ('.pt', '.pth') and other.suffix.lower() == '.onnx':
        options['metadata'] = other
    return options


@dataclass
class ParityConfig:
    """`adds parity`'s options; precision and calib are `adds engine`'s."""

    model: Path = param(MISSING, 'model under test')
    reference: Path = param(MISSING, 'reference model (it runs fp32)')
    images: Path = param(MISSING, 'folder of camera images')
    backend: str = param('auto', 'backend of --model', choices=backend_choices)
    reference_backend: str = param('onnxruntime', 'backend of --reference',
                                   choices=backend_choices)
    precision: str = same_as(EngineConfig, 'precision')
    calib: Optional[Path] = same_as(EngineConfig, 'calib')
    workspace_mib: Optional[int] = param(None, "TensorRT builder workspace of --model's engine "
                                         '(default: reuse one built with any limit, else build '
                                         'with 1024)', (1, 1 << 20))
    device: str = param('auto', 'device for both models')
    max_images: int = param(0, 'use at most N images (0: all)', (0, 10 ** 9))
    tolerance: float = param(0.01, 'largest acceptable absolute disparity error (sigmoid '
                             'units)', (0.0, 1.0))
    min_agreement: float = param(0.99, 'smallest acceptable share of pixels with depth ratio '
                                 '< 1.25', (0.0, 1.0))
    json: Optional[Path] = param(None, 'also write the report here')

    def __post_init__(self) -> None:
        check(self, 'option')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_config.add_options(parser, ParityConfig)


def run(args: argparse.Namespace) -> int:
    from adds_training.data.layout import read_rgb

    config = cli_config.build_checked(ParityConfig, args)
    files = image_files(config.images)[:config.max_images or None]
    model = DepthEstimator(config.model, config.backend, config.device, **estimator_options(
        config.model, config.precision, config.reference, config.calib, config.workspace_mib))
    reference = DepthEstimator(config.reference, config.reference_backend, config.device,
                               **estimator_options(config.reference, 'fp32', config.model))
    try:
        results = []
        for path in tqdm(files, desc='parity', unit='image', leave=False):  # no stale bar
            rgb = read_rgb(path)
            results.append(compare(model.predict(rgb), reference.predict(rgb)))
    finally:
        model.close()
        reference.close()
    total = aggregate(results)
    passed = total.disparity_max_abs <= config.tolerance and \
        total.delta_agreement >= config.min_agreement
    report = {'model': f'{config.model} [{model.describe()}]',
              'reference': f'{config.reference} [{reference.describe()}]',
              'images': len(results), **asdict(total), 'tolerance': config.tolerance,
              'min_agreement': config.min_agreement, 'passed': passed}
    for key, value in report.items():
        print(f'{key:>20}: {value:.6g}' if isinstance(value, float) else f'{key:>20}: {value}')
    if config.json:
        write_text_atomic(config.json, json.dumps(report, indent=1) + '\n')
    return 0 if passed else 1

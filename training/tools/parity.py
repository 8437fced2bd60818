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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from tqdm import tqdm

from adds_ros.atomic import write_text_atomic
from adds_ros.estimator import DepthEstimator, DepthPrediction
from adds_ros.errors import UserValueError
from adds_ros.precision import REQUESTS
from adds_ros.preprocess import image_files


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
                      calib: Optional[Path] = None) -> Dict[str, object]:
    """Return the estimator options of one side: precision, INT8 calibration, geometry.

    A checkpoint borrows the ONNX file's geometry; INT8 takes its calibration images.
    """
    options: Dict[str, object] = {'precision': precision}
    if precision == 'int8' and calib is not None:
        options['calib'] = calib
    if path.suffix.lower() in ('.pt', '.pth') and other.suffix.lower() == '.onnx':
        options['metadata'] = other
    return options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--model', required=True, type=Path, help='model under test')
    parser.add_argument('--reference', required=True, type=Path, help='reference model')
    parser.add_argument('--images', required=True, type=Path, help='folder of camera images')
    parser.add_argument('--backend', default='auto', help='backend of --model')
    parser.add_argument('--reference-backend', default='onnxruntime',
                        help='backend of --reference (default onnxruntime)')
    parser.add_argument('--precision', default='auto', choices=REQUESTS,
                        help='precision of --model (TensorRT; auto resolves as in the node); '
                             'the reference runs fp32')
    parser.add_argument('--calib', type=Path,
                        help='camera images to calibrate --precision int8 on (optional when a '
                             'calibration cache for the model and GPU exists)')
    parser.add_argument('--device', default='auto', help='device for both models')
    parser.add_argument('--max-images', type=int, default=0, help='use at most N images')
    parser.add_argument('--tolerance', type=float, default=0.01,
                        help='largest acceptable absolute disparity error (sigmoid units)')
    parser.add_argument('--min-agreement', type=float, default=0.99,
                        help='smallest acceptable share of pixels with depth ratio < 1.25')
    parser.add_argument('--json', type=Path, help='also write the report here')


def run(args: argparse.Namespace) -> int:
    from adds_training.data.layout import read_rgb

    files = image_files(args.images)[:args.max_images or None]
    model = DepthEstimator(args.model, args.backend, args.device, **estimator_options(
        args.model, args.precision, args.reference, args.calib))
    reference = DepthEstimator(args.reference, args.reference_backend, args.device,
                               **estimator_options(args.reference, 'fp32', args.model))
    try:
        results = []
        for path in tqdm(files, desc='parity', unit='image', leave=False):  # no stale bar
            rgb = read_rgb(path)
            results.append(compare(model.predict(rgb), reference.predict(rgb)))
    finally:
        model.close()
        reference.close()
    total = aggregate(results)
    passed = total.disparity_max_abs <= args.tolerance and \
        total.delta_agreement >= args.min_agreement
    report = {'model': f'{args.model} [{model.describe()}]',
              'reference': f'{args.reference} [{reference.describe()}]',
              'images': len(results), **asdict(total), 'tolerance': args.tolerance,
              'min_agreement': args.min_agreement, 'passed': passed}
    for key, value in report.items():
        print(f'{key:>20}: {value:.6g}' if isinstance(value, float) else f'{key:>20}: {value}')
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=1) + '\n')
    return 0 if passed else 1

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Depth metrics and the evaluation protocols that decide which pixels they see.

Numbers are only comparable within one protocol (../shared/docs/method.md), so a protocol is a
named, frozen record of everything that changes them: the evaluated region of the ground-truth
image, the depth range, and whether predictions are median-scaled per image or multiplied by a
global metric scale. Pure NumPy: evaluation must not depend on the training framework.
"""

from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

METRIC_NAMES = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'a1', 'a2', 'a3')
LOWER_IS_BETTER = {'abs_rel': True, 'sq_rel': True, 'rmse': True, 'rmse_log': True,
                   'a1': False, 'a2': False, 'a3': False}

# (top, bottom, left, right) as fractions of the ground-truth image.
Crop = Tuple[float, float, float, float]


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    `crop` is the evaluated region of the ground-truth image in fractions; pixels outside the
    region the network saw (the dataset's `gt_crop`) are never evaluated, so the effective
    region is the intersection of the two. With `median_scaling` off, predictions are
    multiplied by the model's global metric scale instead.
    """

    name: str
    crop: Crop
    min_depth: float
    max_depth: float
    median_scaling: bool
    description: str = ''


# RobotCar protocols are defined on the 1280x960 stereo-left image; the fractions reproduce
# their pixel crops exactly at that size (method.md, "Evaluation protocols in use").
PROTOCOLS: Dict[str, Protocol] = {p.name: p for p in (
    Protocol('adds40', (160 / 960, 800 / 960, 0.0, 1.0), 1e-3, 40.0, True,
             'ADDS: rows 160:800 of 1280x960, cap 40 m, per-image median scaling'),
    Protocol('adds60', (160 / 960, 800 / 960, 0.0, 1.0), 1e-3, 60.0, True,
             'ADDS: rows 160:800 of 1280x960, cap 60 m, per-image median scaling'),
    # md4all's region (top 1280x768) and range, but scored where our frames (the ADDS crop,
    # rows 160:800) overlap it, i.e. rows 160:768, at the model's own input size: md4all's
    # published numbers (544x320 from rows 0:768) are not comparable, hence the name.
    Protocol('md4all_rows160-768', (0.0, 768 / 960, 0.0, 1.0), 0.1, 50.0, False,
             'md4all-like: rows 0:768 of 1280x960 where the frames reach (160:768 for the ADDS '
             'crop), model input size, 0.1-50 m, metric (global scale); not md4all\'s 544x320 '
             'numbers'),
    Protocol('md4all_rows160-768_median', (0.0, 768 / 960, 0.0, 1.0), 0.1, 50.0, True,
             'md4all-like: rows 0:768 of 1280x960 where the frames reach (160:768 for the ADDS '
             'crop), model input size, 0.1-50 m, per-image median scaling; not md4all\'s '
             '544x320 numbers'),
    Protocol('rnw40', (160 / 960, 800 / 960, 64 / 1280, 1216 / 1280), 1e-3, 40.0, True,
             'RNW: centre 1152x640, cap 40 m, per-image median scaling'),
    Protocol('steps60', (160 / 960, 800 / 960, 64 / 1280, 1216 / 1280), 1e-3, 60.0, True,
             'STEPS: centre 1152x640, cap 60 m, per-image median scaling'),
    Protocol('full40', (0.0, 1.0, 0.0, 1.0), 1e-3, 40.0, True,
             'synthetic world: whole image, cap 40 m, per-image median scaling'),
    Protocol('full40_metric', (0.0, 1.0, 0.0, 1.0), 1e-3, 40.0, False,
             'synthetic world: whole image, cap 40 m, metric (global scale)'),
)}


# Earlier names, still accepted; results are labelled with the protocol's current name.
ALIASES = {'md4all': 'md4all_rows160-768', 'md4all_median': 'md4all_rows160-768_median'}


def get_protocol(name: str) -> Protocol:
    """Look a protocol up by name (or old alias); an unknown name lists the known ones."""
    try:
        return PROTOCOLS[ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f'unknown protocol {name!r}; known: {", ".join(PROTOCOLS)}') from None


def compute_depth_metrics(gt: np.ndarray, pred: np.ndarray) -> Dict[str, float]:
    """Return the seven standard metrics over matching 1-D arrays of valid depths (metres)."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if gt.shape != pred.shape or gt.size == 0:
        raise ValueError(f'need equal, non-empty arrays, got {gt.shape} and {pred.shape}')
    if np.any(gt <= 0) or np.any(pred <= 0):
        raise ValueError('depths must be positive (mask invalid pixels first)')
    thresh = np.maximum(gt / pred, pred / gt)
    return {
        'abs_rel': float(np.mean(np.abs(gt - pred) / gt)),
        'sq_rel': float(np.mean((gt - pred) ** 2 / gt)),
        'rmse': float(np.sqrt(np.mean((gt - pred) ** 2))),
        'rmse_log': float(np.sqrt(np.mean((np.log(gt) - np.log(pred)) ** 2))),
        'a1': float(np.mean(thresh < 1.25)),
        'a2': float(np.mean(thresh < 1.25 ** 2)),
        'a3': float(np.mean(thresh < 1.25 ** 3)),
    }


def region_pixels(shape: Tuple[int, int], crop: Crop) -> Tuple[int, int, int, int]:
    """Convert a fractional crop to pixel bounds (top, bottom, left, right) of `shape`."""
    h, w = shape
    top, bottom, left, right = crop
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f'crop fractions must satisfy 0 <= top < bottom <= 1 (same for '
                         f'left/right), got {crop}')
    return (int(round(top * h)), int(round(bottom * h)),
            int(round(left * w)), int(round(right * w)))


def prediction_to_gt_frame(depth: np.ndarray, gt_shape: Tuple[int, int],
                           view: Tuple[int, int, int, int]) -> np.ndarray:
    """Place a predicted depth map into the ground-truth image; pixels it does not cover are 0.

    `view` is the pixel region (top, bottom, left, right) of the GT image that the network's
    input showed; the prediction is resized to it with bilinear interpolation of *inverse*
    depth (disparity), as Monodepth2 and ADDS do.
    """
    top, bottom, left, right = view
    if not (0 <= top < bottom <= gt_shape[0] and 0 <= left < right <= gt_shape[1]):
        raise ValueError(f'view {view} does not lie inside the ground truth {gt_shape}')
    disp = 1.0 / np.asarray(depth, dtype=np.float32)
    disp = cv2.resize(disp, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    full = np.zeros(gt_shape, np.float32)
    full[top:bottom, left:right] = 1.0 / disp
    return full


def scored_pixels(gt: np.ndarray, pred: np.ndarray, protocol: Protocol,
                  view: Optional[Tuple[int, int, int, int]] = None,
                  metric_scale: Optional[float] = None
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return (mask, gt values, scaled pred values, scale): the pixels `protocol` scores.

    Order matters and follows the protocol definitions, not the reference code: select the
    valid pixels inside the depth cap first, *then* median-scale on exactly those pixels
    (reference defect 6), then clamp the prediction to the depth range. The values are float64
    and follow the mask's row-major order (per-pixel uses such as sparsification need it).
    """
    if gt.shape != pred.shape:
        raise ValueError(f'ground truth {gt.shape} and prediction {pred.shape} differ in shape')
    mask = (gt > protocol.min_depth) & (gt < protocol.max_depth) & (pred > 0)
    top, bottom, left, right = region_pixels(gt.shape, protocol.crop)
    region = np.zeros(gt.shape, bool)
    region[top:bottom, left:right] = True
    if view is not None:
        inside = np.zeros(gt.shape, bool)
        inside[view[0]:view[1], view[2]:view[3]] = True
        region &= inside
    mask &= region
    if not mask.any():
        raise ValueError(f'no valid ground-truth pixel under protocol {protocol.name}')
    g, p = gt[mask].astype(np.float64), pred[mask].astype(np.float64)
    if protocol.median_scaling:
        scale = float(np.median(g) / np.median(p))
    elif metric_scale is not None:
        scale = float(metric_scale)
    else:
        raise ValueError(f'protocol {protocol.name} is metric but the model has no metric '
                         'scale; run `adds eval --estimate-scale` on a validation split first')
    return mask, g, np.clip(p * scale, protocol.min_depth, protocol.max_depth), scale


def evaluate_image(gt: np.ndarray, pred: np.ndarray, protocol: Protocol,
                   view: Optional[Tuple[int, int, int, int]] = None,
                   metric_scale: Optional[float] = None) -> Dict[str, float]:
    """Score one prediction (already in the GT frame, 0 where not predicted) under a protocol.

    The pixels and scaling are `scored_pixels`'. Returns the metrics plus `scale` (the factor
    applied) and `pixels` (how many were scored).
    """
    mask, g, p, scale = scored_pixels(gt, pred, protocol, view, metric_scale)
    out = compute_depth_metrics(g, p)
    out['scale'] = scale
    out['pixels'] = int(mask.sum())
    return out


def median_ratio(gt: np.ndarray, pred: np.ndarray, protocol: Protocol,
                 view: Optional[Tuple[int, int, int, int]] = None) -> float:
    """Return median(GT) / median(pred) over the pixels `protocol` scores (for metric scale)."""
    return evaluate_image(gt, pred, replace(protocol, median_scaling=True), view)['scale']


def mean_metrics(rows: Iterable[Dict[str, float]],
                 names: Sequence[str] = METRIC_NAMES) -> Dict[str, float]:
    """Average metrics over images (every protocol here averages per image, not per pixel)."""
    rows = list(rows)
    if not rows:
        raise ValueError('no per-image results to average')
    return {k: float(np.mean([r[k] for r in rows])) for k in names}


def markdown_table(results: List[Tuple[str, Dict[str, float]]],
                   names: Sequence[str] = METRIC_NAMES) -> str:
    """Format (label, metrics) rows as a markdown table, errors then accuracies, 3 decimals."""
    lines = ['| | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
    for label, metrics in results:
        lines.append(f'| {label} | ' + ' | '.join(f'{metrics[k]:.3f}' for k in names) + ' |')
    return '\n'.join(lines) + '\n'

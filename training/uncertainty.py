# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Sparsification metrics: how well a per-pixel confidence orders a depth map's errors.

As the self-supervised depth literature measures it (Poggi et al., CVPR 2020): drop pixels from
the least to the most confident and score the rest (the *sparsification curve*); drop them by
their true error instead (the *oracle* curve, the best any confidence can do); a confidence
that knows nothing keeps the full error until the end (*random*). Curves are sampled at
`intervals` fractions removed, 0, 1/intervals, ..., with 0 error once every pixel is gone;
areas are trapezoids over the removed fraction in [0, 1]:

- AUSE = area(curve) - area(oracle): 0 for a perfect ordering, lower is better;
- AURG = area(random) - area(curve): > 0 when the confidence beats random ordering.

Scored per image and averaged over images, for Abs Rel, RMSE and δ < 1.25 (scored as its error,
the fraction with δ >= 1.25), on exactly the pixels and scaling of an evaluation protocol
(`adds_training.metrics.scored_pixels`). Two deliberate details: pixels of equal confidence are
dropped together at their mean error (so a constant confidence *is* random ordering, and its
AURG is 0, not an artefact of raster order), and the random curve also ends at 0, so a random
confidence has AURG 0 in expectation (the reference code's random area lacks that last step,
which gives every method err/(2 intervals) of AURG for free). Pure NumPy.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from adds_training.metrics import Protocol, scored_pixels

SPARSIFICATION_METRICS = ('abs_rel', 'rmse', 'a1')
INTERVALS = 50


def pixel_errors(gt: np.ndarray, pred: np.ndarray, metric: str) -> np.ndarray:
    """Per-pixel error whose mean (RMSE: square root of the mean) is the image's error.

    'a1' is scored as an error: 1 where max(gt/pred, pred/gt) >= 1.25, else 0.
    """
    gt = np.asarray(gt, np.float64)
    pred = np.asarray(pred, np.float64)
    if metric == 'abs_rel':
        return np.abs(gt - pred) / gt
    if metric == 'rmse':
        return (gt - pred) ** 2
    if metric == 'a1':
        return (np.maximum(gt / pred, pred / gt) >= 1.25).astype(np.float64)
    raise ValueError(f'metric must be one of {SPARSIFICATION_METRICS}, got {metric!r}')


def _finish(metric: str, mean_error: np.ndarray) -> np.ndarray:
    return np.sqrt(mean_error) if metric == 'rmse' else mean_error


def _tie_means(keys: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Replace each error by the mean of its group of equal keys (`keys` sorted)."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sums = np.add.reduceat(errors, starts)
    counts = np.diff(np.r_[starts, len(keys)])
    return np.repeat(sums / counts, counts)


def removal_curve(errors: np.ndarray, keep_score: np.ndarray, metric: str,
                  intervals: int = INTERVALS) -> np.ndarray:
    """Error of the pixels left after dropping the lowest-`keep_score` fraction k/intervals.

    Returns intervals + 1 values for k = 0..intervals (the last, nothing left, is 0). Pixels
    with equal scores leave together at their mean error (random order among ties).
    """
    errors = np.asarray(errors, np.float64).ravel()
    keep_score = np.asarray(keep_score, np.float64).ravel()
    if errors.shape != keep_score.shape or errors.size == 0:
        raise ValueError(f'need equal, non-empty arrays, got {errors.shape} and '
                         f'{keep_score.shape}')
    if not np.isfinite(keep_score).all():
        raise ValueError('confidence must be finite on every scored pixel')
    if intervals < 1:
        raise ValueError(f'intervals must be >= 1, got {intervals}')
    order = np.argsort(keep_score, kind='stable')        # least confident first
    sorted_errors = _tie_means(keep_score[order], errors[order])
    tail = np.r_[np.cumsum(sorted_errors[::-1])[::-1], 0.0]   # tail[m]: sum after m removed
    n = errors.size
    removed = np.minimum(np.round(np.arange(intervals) * n / intervals).astype(int), n - 1)
    curve = _finish(metric, tail[removed] / (n - removed))
    return np.r_[curve, 0.0]


def retained_error(gt: np.ndarray, pred: np.ndarray, confidence: np.ndarray, metric: str,
                   keep: float = 0.5) -> float:
    """Error of the most confident `keep` fraction of the pixels (ties at their mean error)."""
    if not 0 < keep <= 1:
        raise ValueError(f'keep must be in (0, 1], got {keep}')
    errors = pixel_errors(gt, pred, metric)
    # one interval per pixel fraction: drop round((1 - keep) * n) pixels exactly
    n = errors.size
    curve = removal_curve(errors, confidence, metric, intervals=n)
    return float(curve[int(round((1 - keep) * n))])


def _area(curve: np.ndarray) -> float:
    x = np.linspace(0.0, 1.0, len(curve))
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x)) / 2)


@dataclass
class Sparsification:
    """One image's (or a mean over images') curves and areas for one metric."""

    curve: np.ndarray
    oracle: np.ndarray
    random: np.ndarray
    ause: float
    aurg: float
    all_error: float       # error of every pixel
    half_error: float      # error of the most confident 50 %


def sparsification(gt: np.ndarray, pred: np.ndarray, confidence: np.ndarray, metric: str,
                   intervals: int = INTERVALS) -> Sparsification:
    """Curves, AUSE and AURG of a confidence (higher = more trusted) over matching 1-D arrays."""
    errors = pixel_errors(gt, pred, metric)
    curve = removal_curve(errors, confidence, metric, intervals)
    oracle = removal_curve(errors, -errors, metric, intervals)
    random = removal_curve(errors, np.zeros_like(errors), metric, intervals)
    return Sparsification(curve, oracle, random, ause=_area(curve) - _area(oracle),
                          aurg=_area(random) - _area(curve), all_error=float(random[0]),
                          half_error=retained_error(gt, pred, confidence, metric, 0.5))


def image_sparsification(gt: np.ndarray, pred: np.ndarray, confidence: np.ndarray,
                         protocol: Protocol, view: Optional[Tuple[int, int, int, int]] = None,
                         metric_scale: Optional[float] = None,
                         metrics: Sequence[str] = SPARSIFICATION_METRICS,
                         intervals: int = INTERVALS) -> Dict[str, Sparsification]:
    """Sparsification of one image in the GT frame, on the pixels and scaling of `protocol`.

    `confidence` has the ground truth's shape; it must be finite wherever the protocol scores.
    """
    if confidence.shape != gt.shape:
        raise ValueError(f'confidence {confidence.shape} and ground truth {gt.shape} differ '
                         'in shape')
    mask, g, p, _ = scored_pixels(gt, pred, protocol, view, metric_scale)
    c = confidence[mask]
    return {m: sparsification(g, p, c, m, intervals) for m in metrics}


def mean_sparsification(rows: Iterable[Dict[str, Sparsification]]) -> Dict[str, Sparsification]:
    """Average per-image results (curves pointwise, areas and errors as numbers)."""
    rows = list(rows)
    if not rows:
        raise ValueError('no per-image results to average')
    out = {}
    for metric in rows[0]:
        items: List[Sparsification] = [row[metric] for row in rows]
        out[metric] = Sparsification(
            *(np.mean([getattr(s, f) for s in items], axis=0)
              for f in ('curve', 'oracle', 'random')),
            *(float(np.mean([getattr(s, f) for s in items]))
              for f in ('ause', 'aurg', 'all_error', 'half_error')))
    return out


def summary_row(result: Dict[str, Sparsification]) -> Dict[str, float]:
    """Flatten to {'abs_rel_ause': ..., 'abs_rel_aurg': ..., 'abs_rel_all': ..., ...}."""
    row = {}
    for metric, s in result.items():
        row.update({f'{metric}_ause': s.ause, f'{metric}_aurg': s.aurg,
                    f'{metric}_all': s.all_error, f'{metric}_half': s.half_error})
    return row

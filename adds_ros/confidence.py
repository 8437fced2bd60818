# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Per-pixel depth confidence in 0..1 for any model the runtime runs, with no training.

Two methods, both measured with sparsification metrics (docs/confidence.md):

- `flip`: the frame and its mirror image both go through the `DepthEstimator`; where the two
  depths disagree the network is guessing (Poggi et al., CVPR 2020, "Post"). Two passes.
- `gradient`: the predicted depth's own local relative change; depth edges are where a
  monocular network blurs foreground into background. One pass, nothing but the depth map.

Both give a relative disagreement `d` >= 0 (a difference of natural-log depths, so 0.05 is
about 5 %), mapped to a confidence by `exp(-d / scale)`: 1 where `d` is 0, 0.37 at
`d = scale`, 0.05 at `3 scale`. The map is monotone, so it changes no ordering (AUSE and
AURG do not depend on `scale`); `scale` only says which disagreement counts as "unsure".
Confidence is NaN wherever depth is NaN (outside the crop), float32 at camera resolution.
"""

import time
from dataclasses import dataclass

import cv2
import numpy as np

from adds_ros.preprocess import crop_box
from adds_ros.settings import check, param

CONFIDENCE_METHODS = ('flip', 'gradient')
# exp(-d / scale): the disagreement that maps to 0.37, per method. Set so that the median
# disagreement of the synthetic world's validation streets (day and night) maps to about 0.5
# with the demo's model (docs/confidence.md); only the published values depend on it.
DEFAULT_SCALES = {'flip': 0.04, 'gradient': 0.065}


@dataclass
class ConfidenceConfig:
    """Which method, how disagreement maps to 0..1, and the node's depth mask.

    Each setting is declared here once; the node's parameters take theirs with
    `settings.same_as` (adds_ros/params.py).
    """

    method: str = param('gradient', 'depth/confidence method: gradient (one pass), flip (two '
                        'passes) or none (no confidence topic); docs/confidence.md',
                        choices=('none',) + CONFIDENCE_METHODS)
    scale: float = param(0.0, 'relative depth disagreement at confidence exp(-1); 0: the '
                         "method's default", (0.0, 10.0))
    threshold: float = param(0.0, 'depth/image and inverse_depth/image are NaN where '
                             'confidence is below this (0: off)', (0.0, 1.0))

    def validate(self) -> None:
        check(self, 'confidence setting')

    @property
    def enabled(self) -> bool:
        return self.method != 'none'

    @property
    def resolved_scale(self) -> float:
        return float(self.scale) or DEFAULT_SCALES[self.method]


def to_confidence(disagreement: np.ndarray, scale: float) -> np.ndarray:
    """Map a relative disagreement (>= 0, NaN = no depth) to confidence exp(-d / scale)."""
    return np.exp(-np.asarray(disagreement, np.float32) / np.float32(scale))


def flip_disagreement(depth: np.ndarray, mirrored_depth: np.ndarray) -> np.ndarray:
    """|log depth - log depth of the mirrored frame, mirrored back| per pixel (NaN stays)."""
    if depth.shape != mirrored_depth.shape:
        raise ValueError(f'depth {depth.shape} and mirrored depth {mirrored_depth.shape} '
                         'differ in shape')
    return np.abs(np.log(depth) - np.log(mirrored_depth[:, ::-1]))


def gradient_disagreement(depth: np.ndarray, pixel: float = 1.0) -> np.ndarray:
    """Largest log-depth step to a 4-neighbour per `pixel`, spread over both sides of an edge.

    `pixel` is how many of the map's pixels one network pixel spans (camera crop width / network
    input width): depth upsampled k times has k times smaller steps, so steps are multiplied by
    it and spread over a (2 round(pixel) + 1)-pixel square, making the map a property of the
    model, not of the camera's resolution. Steps across the crop border (to NaN) count as 0;
    NaN depth stays NaN.
    """
    log_depth = np.log(np.asarray(depth, np.float32))
    steps = np.zeros_like(log_depth)
    for axis in (0, 1):
        step = np.abs(np.diff(log_depth, axis=axis))
        step = np.nan_to_num(step, nan=0.0)
        lead = [slice(None)] * 2
        lead[axis] = slice(1, None)
        trail = [slice(None)] * 2
        trail[axis] = slice(None, -1)
        np.maximum(steps[tuple(lead)], step, out=steps[tuple(lead)])
        np.maximum(steps[tuple(trail)], step, out=steps[tuple(trail)])
    side = 2 * max(1, int(round(pixel))) + 1
    spread = cv2.dilate(steps, np.ones((side, side), np.uint8))
    spread *= np.float32(pixel)
    spread[np.isnan(log_depth)] = np.nan
    return spread


@dataclass
class Confidence:
    """A frame's confidence (float32 H x W, 0..1, NaN outside the crop) and its extra cost."""

    confidence: np.ndarray
    seconds: float

    @property
    def mean(self) -> float:
        """Mean over the pixels with depth (NaN if none): what /diagnostics reports."""
        valid = self.confidence[np.isfinite(self.confidence)]
        return float(valid.mean()) if valid.size else float('nan')


class ConfidenceEstimator:
    """Compute the confidence of a `DepthEstimator`'s prediction for the same frame.

    `flip` runs the estimator a second time on the mirrored frame (so it doubles inference
    and, like the estimator, belongs to the estimator's thread).
    """

    def __init__(self, estimator, config: ConfidenceConfig) -> None:
        config.validate()
        if not config.enabled:
            raise ValueError("confidence method 'none' computes no confidence")
        self.estimator = estimator
        self.config = config
        self.scale = config.resolved_scale

    def disagreement(self, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Return the relative disagreement for `depth`, the estimator's depth of `rgb`."""
        if self.config.method == 'flip':
            mirrored = self.estimator.predict(np.ascontiguousarray(rgb[:, ::-1]))
            return flip_disagreement(depth, mirrored.depth)
        return gradient_disagreement(depth, self.network_pixel(depth.shape))

    def network_pixel(self, shape) -> float:
        """Camera pixels per network pixel across the crop (1 for a camera at network size)."""
        meta = getattr(self.estimator, 'metadata', None)
        if meta is None:
            return 1.0
        box = crop_box(meta.crop, shape[0], shape[1])
        return max(1.0, (box[3] - box[2]) / meta.input_width)

    def compute(self, rgb: np.ndarray, depth: np.ndarray) -> Confidence:
        """Return the confidence of `depth` (camera size; model units or metres alike)."""
        start = time.perf_counter()
        confidence = to_confidence(self.disagreement(rgb, depth), self.scale)
        return Confidence(confidence, time.perf_counter() - start)

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Measure the runtime's confidence methods and illumination estimate (docs/confidence.md).

`python -m adds_training.tools.confidence_study confidence --model M.onnx --data ROOT --out DIR`
runs the exported model through the runtime's `DepthEstimator` on the test splits, computes
each confidence of `adds_ros.confidence` (plus a uniformly random one, the control whose AURG
must be about 0) and scores them with `adds_training.uncertainty` under one protocol; it writes
`confidence.json`, `confidence.md` and `confidence.png` (input | depth | 1 - confidence per
method | error). `... illumination --data ROOT --out DIR` scores the day/night decision of
`adds_ros.domain` on every image folder, under camera gains, on dusk cross-fades and on drives
through the stateful selector, into `illumination.json` / `illumination.md`.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from adds_ros.atomic import write_text_atomic
from adds_ros.confidence import CONFIDENCE_METHODS, ConfidenceConfig, ConfidenceEstimator
from adds_ros.estimator import DepthEstimator
from adds_ros.testing.camera import camera_frame
from adds_training import pictures
from adds_training.data import layout
from adds_training.metrics import get_protocol, scored_pixels
from adds_training.tools.bench.pipeline import confidence_cost
from adds_training.uncertainty import (
    image_sparsification, mean_sparsification, SPARSIFICATION_METRICS, summary_row)

CONTROL = 'random'
# a reference, not a method: "the farther, the less sure" (RMSE rewards it; docs/confidence.md)
DISTANCE = 'distance'


def split_frames(root: Path, split: str):
    """Yield (position, RGB, GT metres, frames in the split) for every frame of a split."""
    entries = layout.read_split(layout.split_path(root, split))
    for i, (folder, index) in enumerate(entries):
        yield (i, layout.read_rgb(layout.frame_path(root, folder, index)),
               layout.read_gt_png(layout.gt_path(root, folder, index)), len(entries))


def frame_confidences(estimator: DepthEstimator, rgb: np.ndarray, depth: np.ndarray,
                      methods: Sequence[str], rng: np.random.Generator
                      ) -> Dict[str, np.ndarray]:
    """Each method's confidence of `depth`, plus the random control and the distance reference."""
    out = {m: ConfidenceEstimator(estimator, ConfidenceConfig(m)).compute(rgb, depth).confidence
           for m in methods}
    out[CONTROL] = rng.random(depth.shape).astype(np.float32)
    out[DISTANCE] = 1.0 / depth
    return out


def abs_rel_map(gt: np.ndarray, depth: np.ndarray, protocol) -> np.ndarray:
    """Per-pixel Abs Rel after the protocol's scaling, NaN where it scores nothing."""
    mask, g, p, _ = scored_pixels(gt, depth, protocol)
    error = np.full(gt.shape, np.nan, np.float32)
    error[mask] = np.abs(g - p) / g
    return error


def picture_row(rgb: np.ndarray, depth: np.ndarray, confidences: Dict[str, np.ndarray],
                error: np.ndarray, methods: Sequence[str]) -> List[np.ndarray]:
    """Input | depth | 1 - confidence per method | Abs Rel error (bright = unsure / wrong)."""
    scale = pictures.panel_scale(rgb.shape[1])
    panels = [(rgb, 'input'), (pictures.depth_rgb(depth), 'depth')]
    panels += [(pictures.unit_rgb(1 - confidences[m]), f'1 - confidence ({m})')
               for m in methods]
    panels.append((pictures.unit_rgb(error, vmax=0.5), 'abs rel error (0-0.5)'))
    return [pictures.labelled(panel, label, scale) for panel, label in panels]


def confidence_study(model: Path, root: Path, splits: Sequence[str], out: Path,
                     protocol_name: str = 'full40', methods: Sequence[str] = CONFIDENCE_METHODS
                     ) -> dict:
    """Score every method on every split; write the tables and the picture; return the summary.

    The picture shows the middle frame of each split.
    """
    protocol = get_protocol(protocol_name)
    rng = np.random.default_rng(0)
    summary = {'model': str(model), 'data': str(root), 'protocol': protocol.name,
               'splits': {}}
    rows = []
    with DepthEstimator(model, backend='onnxruntime', device='cpu') as estimator:
        for split in splits:
            per_method: Dict[str, list] = {m: [] for m in (*methods, CONTROL, DISTANCE)}
            for i, rgb, gt, frames in split_frames(root, split):
                depth = estimator.predict(rgb).depth
                confidences = frame_confidences(estimator, rgb, depth, methods, rng)
                for name, confidence in confidences.items():
                    per_method[name].append(image_sparsification(gt, depth, confidence,
                                                                 protocol))
                if i == frames // 2:
                    rows.append(picture_row(rgb, depth, confidences,
                                            abs_rel_map(gt, depth, protocol), methods))
            summary['splits'][split] = {
                name: {**summary_row(mean), 'images': len(results),
                       'abs_rel_aurg_positive': int(sum(r['abs_rel'].aurg > 0 for r in results)),
                       'curves': {m: {k: getattr(mean[m], k).round(5).tolist()
                                      for k in ('curve', 'oracle', 'random')}
                                  for m in mean}}
                for name, results in per_method.items()
                for mean in [mean_sparsification(results)]}
        summary['timing'] = confidence_cost(estimator, camera_frame('rgb8', 960, 1280),
                                            methods, iterations=20, warmup=2)
    out.mkdir(parents=True, exist_ok=True)
    if rows:
        pictures.save_png(out / 'confidence.png', pictures.grid(rows))
    write_text_atomic(out / 'confidence.json', json.dumps(summary, indent=1) + '\n')
    write_text_atomic(out / 'confidence.md', confidence_tables(summary))
    return summary


def confidence_tables(summary: dict) -> str:
    """Markdown: AUSE / AURG per metric, and most-confident-50 % against all pixels."""
    names = {'abs_rel': 'Abs Rel', 'rmse': 'RMSE', 'a1': 'δ≥1.25'}
    head = ('| split | method | ' + ' | '.join(
        f'{names[m]} AUSE | {names[m]} AURG' for m in SPARSIFICATION_METRICS) + ' |')
    lines = [head, '|---' * (2 + 2 * len(SPARSIFICATION_METRICS)) + '|']
    half = ['| split | method | ' + ' | '.join(
        f'{names[m]} all | {names[m]} best 50 %' for m in SPARSIFICATION_METRICS)
        + ' | images with Abs Rel AURG > 0 |', lines[1] + '---|']
    for split, per_method in summary['splits'].items():
        for name, r in per_method.items():
            lines.append(f'| {split} | {name} | ' + ' | '.join(
                f'{r[m + "_ause"]:.4f} | {r[m + "_aurg"]:+.4f}' for m in SPARSIFICATION_METRICS)
                + ' |')
            half.append(f'| {split} | {name} | ' + ' | '.join(
                f'{r[m + "_all"]:.4f} | {r[m + "_half"]:.4f}' for m in SPARSIFICATION_METRICS)
                + f' | {r["abs_rel_aurg_positive"]} of {r["images"]} |')
    timing = summary['timing']
    cost = ', '.join(f'{m} +{row["p50_ms"]:.1f} ms' for m, row in timing['methods'].items())
    return (f'Model `{summary["model"]}`, protocol {summary["protocol"]}.\n\n'
            + '\n'.join(lines) + '\n\n' + '\n'.join(half) + '\n\n'
            + f'CPU cost at {timing["camera"]}: depth {timing["depth"]["p50_ms"]:.1f} ms, {cost} '
            f'(medians of {timing["depth"]["n"]} frames)\n')


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m adds_training.tools.confidence_study',
                                     description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='study', required=True)
    conf = sub.add_parser('confidence', help='AUSE / AURG of the confidence methods')
    conf.add_argument('--model', type=Path, required=True, help='exported .onnx model')
    conf.add_argument('--splits', nargs='+', default=['test_day', 'test_night'])
    conf.add_argument('--protocol', default='full40')
    illum = sub.add_parser('illumination', help='accuracy of the day/night decision')
    illum.add_argument('--stored', action='store_true',
                       help="measure adds_ros.domain's weights instead of calibrating new ones")
    for p in (conf, illum):
        p.add_argument('--data', type=Path, required=True, help='processed dataset root')
        p.add_argument('--out', type=Path, required=True, help='report folder')
    args = parser.parse_args(argv)
    if args.study == 'confidence':
        summary = confidence_study(args.model, args.data, args.splits, args.out, args.protocol)
        print(confidence_tables(summary))
    else:
        from adds_training.tools.illumination_study import illumination_study
        print(illumination_study(args.data, args.out, args.stored))
    return 0


if __name__ == '__main__':
    sys.exit(main())

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds eval`: score a depth network on day and night splits under the published protocols.

Each image is predicted once; every requested protocol then scores the same prediction
(metrics.py decides the pixels, caps and scaling). Outputs: one per-image CSV per split and
protocol, `results.json` and a markdown table. `--estimate-scale SPLIT` measures the global
metric scale (median of the per-image median GT/prediction ratios on a *validation* split) and
stores it in the checkpoint's meta, so metric protocols and the runtime can use it.
"""

import argparse
import csv
import io
import json
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from adds_ros import cli_config
from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_ros.settings import check, param, same_as
from adds_training.checkpoint import update_meta
from adds_training.data.datasets import EvalDataset
from adds_training.data.layout import DatasetInfo
from adds_training.device import pick_device
from adds_training.geometry import disp_to_depth
from adds_training.metrics import (
    get_protocol, markdown_table, mean_metrics, median_ratio, METRIC_NAMES,
    prediction_to_gt_frame, Protocol, evaluate_image)
from adds_training.networks.loading import load_depth_net, LoadOptions

# Per-image rows: metrics plus bookkeeping columns.
ROW_COLUMNS = ('index',) + METRIC_NAMES + ('scale', 'pixels')


def predict_depths(net, loader, min_depth: float, max_depth: float, device,
                   desc: str = 'predict'):
    """Yield (index, depth HxW float32 at network resolution, gt) for every image of a loader."""
    net.eval()
    with torch.inference_mode():
        for batch in tqdm(loader, desc=desc, leave=False):
            disp = net(batch['image'].to(device))[0]
            _, depth = disp_to_depth(disp, min_depth, max_depth)
            depth = depth[:, 0].float().cpu().numpy()
            for i, index in enumerate(batch['index']):
                yield index, depth[i], batch['gt'][i].numpy()


def eval_loader(root: str, split: str, height: int, width: int, batch_size: int = 4,
                num_workers: int = 0):
    """Build the evaluation DataLoader of a split (GT kept at its own resolution)."""
    dataset = EvalDataset(root, split, height, width)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                       num_workers=num_workers)


def recalibrate_batchnorm(net, root: str, splits: Sequence[str], height: int, width: int,
                          device='cpu', batch_size: int = 4) -> None:
    """Replace every BatchNorm's running statistics by those of `splits`' images.

    A diagnosis, not a deployment step: it shows how much of an error comes from the running
    statistics themselves, e.g. the day/night mix a `domain_batch=separate` run tests with
    (docs/model.md, "Domain batches").
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise UserValueError('the network has no BatchNorm layer to recalibrate')
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None          # a cumulative average over every batch
    net.train()
    with torch.no_grad():
        for split in splits:
            for batch in tqdm(eval_loader(root, split, height, width, batch_size),
                              desc=f'batchnorm {split}', leave=False):
                net(batch['image'].to(device))
    net.eval()


def evaluate_split(net, root: str, split: str, protocols: Sequence[Protocol], height: int,
                   width: int, min_depth: float, max_depth: float, device='cpu',
                   metric_scale: Optional[float] = None, batch_size: int = 4,
                   num_workers: int = 0) -> Dict[str, List[dict]]:
    """Return per-image rows for each protocol name on one split."""
    view = tuple(DatasetInfo.load(Path(root)).gt_crop)
    rows: Dict[str, List[dict]] = {p.name: [] for p in protocols}
    loader = eval_loader(root, split, height, width, batch_size, num_workers)
    for index, depth, gt in predict_depths(net, loader, min_depth, max_depth, device, split):
        pred = prediction_to_gt_frame(depth, gt.shape, view)
        for protocol in protocols:
            row = evaluate_image(gt, pred, protocol, view, metric_scale)
            rows[protocol.name].append({'index': index, **row})
    return rows


def estimate_metric_scale(net, root: str, split: str, protocol: Protocol, height: int,
                          width: int, min_depth: float, max_depth: float, device='cpu',
                          batch_size: int = 4) -> float:
    """Median over images of median(GT)/median(pred): one factor from network units to metres."""
    view = tuple(DatasetInfo.load(Path(root)).gt_crop)
    loader = eval_loader(root, split, height, width, batch_size)
    ratios = [median_ratio(gt, prediction_to_gt_frame(depth, gt.shape, view), protocol, view)
              for _, depth, gt in predict_depths(net, loader, min_depth, max_depth, device,
                                                 f'scale {split}')]
    if not ratios:
        raise ValueError(f'split {split} is empty')
    return float(np.median(ratios))


def rows_to_csv(rows: List[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_COLUMNS, lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in ROW_COLUMNS})
    return out.getvalue()


def write_reports(out_dir: Path, results: Dict[str, Dict[str, List[dict]]],
                  header: dict) -> dict:
    """Write per-image CSVs, results.json and results.md; return the summary."""
    out_dir = Path(out_dir)
    summary = {'header': header, 'results': {}}
    table = []
    for split, per_protocol in results.items():
        for name, rows in per_protocol.items():
            write_text_atomic(out_dir / f'per_image_{split}_{name}.csv', rows_to_csv(rows))
            means = mean_metrics(rows)
            summary['results'].setdefault(split, {})[name] = {**means, 'images': len(rows)}
            table.append((f'{split} / {name} ({len(rows)} images)', means))
    write_text_atomic(out_dir / 'results.json', json.dumps(summary, indent=1) + '\n')
    write_text_atomic(out_dir / 'results.md',
                      f'Checkpoint: `{header["checkpoint"]}`\n\n' + markdown_table(table))
    return summary


@dataclass
class EvalConfig:
    """`adds eval`'s options."""

    checkpoint: Path = same_as(LoadOptions, 'checkpoint')
    data: Path = param(MISSING, 'processed dataset root')
    splits: Tuple[str, ...] = param(('test_day', 'test_night'), 'splits to evaluate')
    protocols: Tuple[str, ...] = param(('adds40', 'adds60'), 'see '
                                       'adds_training.metrics.PROTOCOLS (full40 for the '
                                       'synthetic world)')
    out: Optional[Path] = param(None, 'report folder (default: beside the checkpoint, eval/)')
    domain: str = same_as(LoadOptions, 'domain')
    metric_scale: Optional[float] = param(None, "override the checkpoint's metric scale for "
                                                'metric protocols', (1e-9, 1e9))
    estimate_scale: Optional[str] = param(None, 'estimate the metric scale on this validation '
                                                'split and store it in the checkpoint (then '
                                                'evaluate as usual)')
    scale_protocol: str = param('full40', 'protocol whose pixels the scale estimate uses')
    normalisation: Optional[str] = same_as(LoadOptions, 'normalisation')
    batchnorm_stats: Optional[Tuple[str, ...]] = param(None, 'diagnosis: re-estimate the '
                                                       'BatchNorm running statistics on these '
                                                       'validation splits before scoring (the '
                                                       'checkpoint is not changed)')
    batch_size: int = param(4, 'images per batch', (1, 4096))
    device: str = param('auto', 'auto, cpu or cuda[:N]')

    def __post_init__(self) -> None:
        check(self, 'option')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_config.add_options(parser, EvalConfig, extra={
        'estimate_scale': {'metavar': 'SPLIT'}, 'batchnorm_stats': {'metavar': 'SPLIT'}})


def run(args: argparse.Namespace) -> int:
    config = cli_config.build_checked(EvalConfig, args)
    protocols = [get_protocol(name) for name in config.protocols]
    fitted = {'--estimate-scale': [config.estimate_scale or ''],
              '--batchnorm-stats': config.batchnorm_stats or []}
    for option, splits in fitted.items():
        tests = [split for split in splits if split.startswith('test')]
        if tests:
            raise UserValueError(f'refusing to fit {option} on a test split ({tests[0]}); use '
                                 'a validation split')
    if not Path(config.data).is_dir():
        raise UserFileNotFoundError(f'--data {config.data}: no such folder')
    device = pick_device(config.device)
    net, info = load_depth_net(config.checkpoint, domain=config.domain,
                               normalisation=config.normalisation)
    # the stored scale belongs to the checkpoint's own network, not to a changed one
    changed = bool(config.batchnorm_stats) or info['normalisation'] != (
        (info.get('meta') or {}).get('normalisation', 'running'))
    net.to(device)
    meta = info.get('meta') or {}
    geometry = dict(height=info['height'], width=info['width'],
                    min_depth=meta.get('min_depth', 0.1), max_depth=meta.get('max_depth', 100.0),
                    device=device)
    if config.batchnorm_stats:
        recalibrate_batchnorm(net, config.data, config.batchnorm_stats, info['height'],
                              info['width'], device, config.batch_size)
    metric_scale = config.metric_scale or meta.get('metric_scale')
    if config.estimate_scale:
        metric_scale = estimate_metric_scale(net, config.data, config.estimate_scale,
                                             get_protocol(config.scale_protocol),
                                             batch_size=config.batch_size, **geometry)
        if Path(config.checkpoint).is_file() and not changed:
            update_meta(config.checkpoint, metric_scale=metric_scale,
                        metric_scale_split=config.estimate_scale)
        print(f'metric scale on {config.estimate_scale}: {metric_scale:.4f}')
    results = {split: evaluate_split(net, config.data, split, protocols,
                                     metric_scale=metric_scale, batch_size=config.batch_size,
                                     **geometry)
               for split in config.splits}
    out = Path(config.out) if config.out else Path(config.checkpoint).parent / 'eval'
    header = {'checkpoint': str(config.checkpoint), 'data': str(config.data),
              'metric_scale': metric_scale, 'batchnorm_stats': config.batchnorm_stats,
              'normalisation': info['normalisation'],
              'protocols': {p.name: p.description for p in protocols}}
    summary = write_reports(out, results, header)
    print((out / 'results.md').read_text())
    return 0 if summary['results'] else 1

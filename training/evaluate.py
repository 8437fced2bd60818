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
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_training.metrics import (
    get_protocol, markdown_table, mean_metrics, median_ratio, METRIC_NAMES,
    prediction_to_gt_frame, Protocol, evaluate_image)

# Per-image rows: metrics plus bookkeeping columns.
ROW_COLUMNS = ('index',) + METRIC_NAMES + ('scale', 'pixels')


def predict_depths(net, loader, min_depth: float, max_depth: float, device,
                   desc: str = 'predict'):
    """Yield (index, depth HxW float32 at network resolution, gt) for every image of a loader."""
    import torch

    from adds_training.geometry import disp_to_depth

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
    import torch

    from adds_training.data.datasets import EvalDataset

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
    import torch

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
    from adds_training.data.layout import DatasetInfo

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
    from adds_training.data.layout import DatasetInfo

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', required=True,
                        help='project checkpoint (.pt) or an authors\' Monodepth2-style folder')
    parser.add_argument('--data', required=True, help='processed dataset root')
    parser.add_argument('--splits', nargs='+', default=['test_day', 'test_night'])
    parser.add_argument('--protocols', nargs='+', default=['adds40', 'adds60'],
                        help='see adds_training.metrics.PROTOCOLS (full40 for the synthetic '
                             'world)')
    parser.add_argument('--out', default=None,
                        help='report folder (default: beside the checkpoint, eval/)')
    parser.add_argument('--domain', default='day', choices=('day', 'night'),
                        help='stem to use for checkpoints with per-domain stems')
    parser.add_argument('--metric-scale', type=float, default=None,
                        help='override the checkpoint\'s metric scale for metric protocols')
    parser.add_argument('--estimate-scale', metavar='SPLIT', default=None,
                        help='estimate the metric scale on this validation split and store it '
                             'in the checkpoint (then evaluate as usual)')
    parser.add_argument('--scale-protocol', default='full40',
                        help='protocol whose pixels the scale estimate uses')
    parser.add_argument('--normalisation', choices=('running', 'per_image'), default=None,
                        help="BatchNorm statistics at test time (default: the checkpoint's; "
                             'docs/model.md, "Domain batches")')
    parser.add_argument('--batchnorm-stats', metavar='SPLIT', nargs='+', default=None,
                        help='diagnosis: re-estimate the BatchNorm running statistics on these '
                             'validation splits before scoring (the checkpoint is not changed)')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--device', default='auto')


def run(args: argparse.Namespace) -> int:
    from adds_training.checkpoint import update_meta
    from adds_training.device import pick_device
    from adds_training.networks import load_depth_net

    protocols = [get_protocol(name) for name in args.protocols]
    fitted = {'--estimate-scale': [args.estimate_scale or ''],
              '--batchnorm-stats': args.batchnorm_stats or []}
    for option, splits in fitted.items():
        tests = [split for split in splits if split.startswith('test')]
        if tests:
            raise UserValueError(f'refusing to fit {option} on a test split ({tests[0]}); use '
                                 'a validation split')
    if not Path(args.data).is_dir():
        raise UserFileNotFoundError(f'--data {args.data}: no such folder')
    device = pick_device(args.device)
    net, info = load_depth_net(args.checkpoint, domain=args.domain,
                               normalisation=args.normalisation)
    # the stored scale belongs to the checkpoint's own network, not to a changed one
    changed = bool(args.batchnorm_stats) or info['normalisation'] != (
        (info.get('meta') or {}).get('normalisation', 'running'))
    net.to(device)
    meta = info.get('meta') or {}
    geometry = dict(height=info['height'], width=info['width'],
                    min_depth=meta.get('min_depth', 0.1), max_depth=meta.get('max_depth', 100.0),
                    device=device)
    if args.batchnorm_stats:
        recalibrate_batchnorm(net, args.data, args.batchnorm_stats, info['height'],
                              info['width'], device, args.batch_size)
    metric_scale = args.metric_scale or meta.get('metric_scale')
    if args.estimate_scale:
        metric_scale = estimate_metric_scale(net, args.data, args.estimate_scale,
                                             get_protocol(args.scale_protocol),
                                             batch_size=args.batch_size, **geometry)
        if Path(args.checkpoint).is_file() and not changed:
            update_meta(args.checkpoint, metric_scale=metric_scale,
                        metric_scale_split=args.estimate_scale)
        print(f'metric scale on {args.estimate_scale}: {metric_scale:.4f}')
    results = {split: evaluate_split(net, args.data, split, protocols,
                                     metric_scale=metric_scale, batch_size=args.batch_size,
                                     **geometry)
               for split in args.splits}
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / 'eval'
    header = {'checkpoint': str(args.checkpoint), 'data': str(args.data),
              'metric_scale': metric_scale, 'batchnorm_stats': args.batchnorm_stats,
              'normalisation': info['normalisation'],
              'protocols': {p.name: p.description for p in protocols}}
    summary = write_reports(out, results, header)
    print((out / 'results.md').read_text())
    return 0 if summary['results'] else 1

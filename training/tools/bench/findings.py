# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Plain-language findings computed from one run's numbers, for the Notes of the report.

Each finding compares numbers measured side by side in the same run (never with a constant
from another day), so it stays true when the report is regenerated on another machine.
"""

from typing import Any, Dict, List, Optional

from adds_training.tools.bench.inference import SPINNING, TORCH
from adds_training.tools.bench.pipeline import OUTSIDE
from adds_training.tools.bench.report import training_rows

CONV_OPS = ('Conv', 'FusedConv')


def threads(n: int) -> str:
    return f'{n} thread' + ('s' if n != 1 else '')


def _row(rows: List[Dict[str, Any]], backend: str, size: str,
         threads: Optional[int]) -> Optional[Dict[str, Any]]:
    return next((r for r in rows if r['backend'] == backend and r['size'] == size
                 and r['threads'] == threads and 'p50_ms' in r), None)


def threads_findings(results: Dict[str, Any]) -> List[str]:
    """Which thread count won per backend, and what spin-waiting cost."""
    rows = [r for r in results.get('inference', []) if r['device'] == 'cpu']
    counts = sorted({r['threads'] for r in rows})
    if not rows or len(counts) < 2:
        return []
    size, few, many = rows[0]['size'], counts[0], counts[-1]
    notes = []
    for backend in (TORCH, 'onnxruntime'):
        a, b = _row(rows, backend, size, few), _row(rows, backend, size, many)
        if a and b:
            winner = few if a['p50_ms'] < b['p50_ms'] else many
            notes.append(f'{backend} at {size}: {a["p50_ms"]:.0f} ms with {threads(few)}, '
                         f'{b["p50_ms"]:.0f} ms with {threads(many)}; {threads(winner)} won.')
    if any(n.endswith(f'{threads(few)} won.') for n in notes):
        notes.append('Fewer threads winning means the cores were busy with other jobs: every '
                     'intra-op barrier then waits for a thread the kernel has descheduled. On '
                     'an idle machine all physical cores are the right setting.')
    spin, plain = _row(rows, SPINNING, size, many), _row(rows, 'onnxruntime', size, many)
    if spin and plain:
        notes.append(f'ONNX Runtime with idle threads spinning (its default) took '
                     f'{spin["p50_ms"]:.0f} ms against {plain["p50_ms"]:.0f} ms with them '
                     'sleeping, which the project backend now does: spinning threads also '
                     'steal the cores of whatever else runs (the node\'s decode and DDS '
                     'threads, PyTorch in the same process).')
    return notes


def floor_findings(results: Dict[str, Any]) -> List[str]:
    """How close the best backend came to the floor, and what the rest of its time is."""
    rows = [r for r in results.get('inference', []) if r['device'] == 'cpu' and 'p50_ms' in r]
    ops = results.get('onnxruntime_profile', {}).get('ops', [])
    if not rows or not ops:
        return []
    best = min((r for r in rows if r['size'] == rows[0]['size']), key=lambda r: r['p50_ms'])
    conv = sum(o['share'] for o in ops if o['op'] in CONV_OPS)
    rest = ', '.join(f"{o['op']} {o['share']:.0%}" for o in ops
                     if o['op'] not in CONV_OPS and o['share'] >= 0.01)
    return [f"Best at {best['size']}: {best['backend']} with {threads(best['threads'])}, "
            f"{best['p50_ms']:.0f} ms = {best['floor_ratio']:.2f}x the matmul floor. ONNX "
            f'Runtime spends {conv:.0%} of its kernel time in convolutions; the rest ({rest}) '
            'moves memory without multiplying, which the floor does not count. The '
            "Monodepth2 decoder's full-resolution layers have only 16-32 channels, too few to "
            'keep the vector units as busy as a large matrix product does.']


def pipeline_findings(results: Dict[str, Any]) -> List[str]:
    notes = []
    for row in results.get('pipeline', []):
        stages = row['stages']
        worst = max(OUTSIDE, key=lambda s: stages[s]['p50_ms'])
        colorize = stages['colorize (viewer only)']['p50_ms']
        notes.append(f"{row['encoding']}: outside inference is {row['outside_inference_ms']:.1f}"
                     f" ms per frame, the largest part {worst} ({stages[worst]['p50_ms']:.1f} "
                     f'ms); the colourised view adds {colorize:.1f} ms while someone views it.')
    return notes


def transport_findings(results: Dict[str, Any]) -> List[str]:
    transport = results.get('transport')
    if not transport or not transport['lockstep'].get('n'):
        return []
    lockstep = transport['lockstep']['p50_ms']
    inference = transport.get('inference', {}).get('inference', 0.0)
    return [f'Through real ROS 2 across processes a frame took {lockstep:.1f} ms (p50) with a '
            f'network that costs {inference:.2f} ms: {lockstep - inference:.1f} ms are the '
            "node's decode, packing and rclpy conversions plus two trips through Fast DDS "
            '(target: at most 10 ms above inference).']


def training_findings(results: Dict[str, Any]) -> List[str]:
    rows = results.get('training', [])
    runs = {o: training_rows(rows, o) for o in ('adds', 'monodepth2')}
    if not all(('fp32', False) in r for r in runs.values()):
        return []
    adds, base = runs['adds'][('fp32', False)], runs['monodepth2'][('fp32', False)]
    pose = adds['forward_calls_per_step'].get('pose_encoder')
    lines = [f"An ADDS step costs {adds['step_p50_s'] / base['step_p50_s']:.1f}x a Monodepth2 "
             f'step: it runs two domains, two private encoders and the reconstruction decoder. '
             f'The pose network runs {pose} times per step, once per source frame, and serves '
             'both domains: no network runs a duplicated forward pass.']
    for objective, by_setting in runs.items():
        eager = by_setting.pop(('fp32', False))['step_p50_s']
        speedups = [f"{precision}{' + compiled losses' if compiled else ''} "
                    f"{eager / row['step_p50_s']:.2f}x"
                    for (precision, compiled), row in by_setting.items()]
        if speedups:
            lines.append(f'{objective} training step against fp32 eager: '
                         + ', '.join(speedups) + '.')
    return lines


def findings(results: Dict[str, Any]) -> List[str]:
    """Every finding this run's numbers support, in report order."""
    return (threads_findings(results) + floor_findings(results) + pipeline_findings(results)
            + transport_findings(results) + training_findings(results))

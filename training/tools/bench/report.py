# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The benchmark report: targets checked, markdown tables, and the JSON they come from."""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from adds_ros.atomic import write_text_atomic
from adds_training.tools.bench.traffic import KINDS

# (name, limit, how the value compares): the targets for the 2-core CPU
TARGETS = {
    'outside_inference': (0.10, 'max', 'per-frame work outside inference / inference, '
                                       '1280x960 input'),
    'onnxruntime_vs_pytorch': (1.3, 'min', 'ONNX Runtime speed-up over PyTorch eager (CPU)'),
    'floor_ratio': (2.5, 'max', 'best CPU inference latency / matmul floor'),
    'colorize_ms': (1.0, 'max', 'colourised view of a camera-size depth image, ms (CPU)'),
    'torch_vs_best_pytorch': (1.3, 'max', 'project PyTorch backend latency / best PyTorch '
                                          'variant (CUDA)'),
    'ros_overhead_ms': (10.0, 'max', 'end-to-end p50 over real rclpy minus inference p50, '
                                     'tiny model, ms'),
    'adds_train_samples_per_s': (135.0, 'min', 'ADDS training samples/s, best setting, 512x256 '
                                               'batch 6 (CUDA; H200 target)'),
    'bf16_speedup': (1.5, 'min', 'ADDS training step, bf16 autocast speed-up over fp32 (CUDA)'),
}


def training_rows(rows: Sequence[Dict[str, Any]], objective: str) -> Dict[tuple, Dict[str, Any]]:
    """One objective's training rows by (precision, compile_losses)."""
    return {(r.get('precision', 'fp32'), r.get('compile_losses', False)): r for r in rows
            if r['objective'] == objective}


def fmt(value: Any, digits: int = 1) -> str:
    """Format a table cell: numbers rounded, missing values as a dash."""
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.{digits}f}' if abs(value) >= 1 or value == 0 else f'{value:.2g}'
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(fmt(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def check_targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One entry per target and measured case: value, limit, met."""
    checks = []

    def add(name: str, case: str, value: Optional[float]) -> None:
        limit, kind, what = TARGETS[name]
        met = None if value is None else (value <= limit if kind == 'max' else value >= limit)
        checks.append({'target': name, 'case': case, 'what': what, 'value': value,
                       'limit': limit, 'kind': kind, 'met': met})

    for row in results.get('pipeline', []):
        add('outside_inference', row['encoding'], row['outside_over_inference'])
    cpu = [r for r in results.get('inference', []) if r['device'] == 'cpu' and 'p50_ms' in r]
    for size in dict.fromkeys(r['size'] for r in cpu):
        for row in cpu:
            if row['size'] == size and row['backend'] == 'onnxruntime':
                add('onnxruntime_vs_pytorch', f"{size}, {row['threads']} threads",
                    row['speedup_vs_pytorch'])
        ratios = [r['floor_ratio'] for r in cpu if r['size'] == size and r['floor_ratio']]
        add('floor_ratio', size, min(ratios) if ratios else None)
    colour = results.get('estimator_paths', {}).get('colorize')
    if colour:
        add('colorize_ms', colour['camera'], colour['p50_ms'])
    for row in results.get('inference', []):
        if 'vs_best_pytorch' in row:
            add('torch_vs_best_pytorch', row['size'], row['vs_best_pytorch'])
    adds = training_rows(results.get('training', []), 'adds')
    if any(r['device'] == 'cuda' for r in adds.values()):
        best = max(adds.values(), key=lambda r: r['samples_per_s'])
        add('adds_train_samples_per_s', f"{best['size']}, batch {best['batch']}, "
            f"{best['precision']}{', compiled losses' if best['compile_losses'] else ''}",
            best['samples_per_s'])
        for compiled in (False, True):
            if ('bf16', compiled) in adds and ('fp32', compiled) in adds:
                fp32, bf16 = adds[('fp32', compiled)], adds[('bf16', compiled)]
                add('bf16_speedup', 'compiled losses' if compiled else 'eager',
                    fp32['step_p50_s'] / bf16['step_p50_s'])
    for key in ('transport', 'transport_fastdds_defaults'):
        run = results.get(key) or {}
        if run.get('lockstep', {}).get('p50_ms') is not None:
            add('ros_overhead_ms', f"{run['camera']}, Fast DDS {run.get('fastdds', 'default')}",
                run['lockstep']['p50_ms'] - run['inference']['inference'])
    return checks


def machine_section(results: Dict[str, Any]) -> List[str]:
    m, floor = results['machine'], results['floor']
    libs = ', '.join(f'{k} {v}' for k, v in m['libraries'].items() if v)
    missing = ', '.join(k for k, v in m['libraries'].items() if not v)
    load = ' / '.join(f'{x:.2f}' for x in m['load_average'])
    end = ' / '.join(f'{x:.2f}' for x in results.get('load_average_end', []))
    lines = ['## Machine', '',
             f"- CPU: {m['cpu']}, {m['physical_cores']} physical / {m['logical_cores']} "
             f"logical cores, {m['memory_gib']:.1f} GiB memory; GPU: {m['gpu'] or 'none'}",
             f'- OS: {m["os"]}', f'- libraries: {libs}' + (f' (not installed: {missing})'
                                                           if missing else ''),
             f'- load average (1/5/15 min) at start: {load}; at end: {end or "-"}. The machine '
             'is shared with other jobs: absolute times are noisy, ratios measured side by '
             'side in one run are the numbers to compare.',
             f"- threads: {results['config']['threads']} (torch and ONNX Runtime intra-op)", '',
             '## Floor: matrix-multiply rate and model FLOPs', '',
             'Measured float32 matmul rate (torch.mm, '
             f"{floor['matmul_size']}x{floor['matmul_size']}, best of "
             f"{floor['matmul_repeats']}): " + ', '.join(
                 f'**{v:.1f} GFLOP/s** ({k})' for k, v in floor['matmul_gflops'].items())
             + '. The floor uses the best CPU rate.', '',
             table(['depth net input', 'GMACs / frame', 'GFLOPs / frame', 'CPU floor (ms)'],
                   [(s, f['gmacs'], f['gflops'], f['floor_ms_cpu'])
                    for s, f in floor['model'].items()]), '',
             'FLOPs count every convolution of the depth network (forward hooks, 2 FLOPs per '
             'multiply-accumulate, all four decoder scales). Floor = FLOPs / matmul rate: '
             'no backend can be faster on this machine.', '']
    return lines


def inference_section(results: Dict[str, Any]) -> List[str]:
    rows = results.get('inference', [])
    if not rows:
        return []
    body = [(r['backend'], r['device'], r['threads'], r['size'], r.get('p50_ms'), r.get('p99_ms'),
             r.get('fps'), r.get('floor_ratio'), r.get('speedup_vs_pytorch'),
             r.get('skipped', '')) for r in rows]
    lines = ['## Inference per backend', '',
             'Network only (a prepared 1x3xHxW float32 input), candidates of one device timed '
             'in turn, iteration by iteration.', '',
             table(['backend', 'device', 'threads', 'input', 'p50 ms', 'p99 ms', 'frames/s',
                    'x floor', 'x PyTorch', 'skipped because'], body), '']
    profile = results.get('onnxruntime_profile')
    if profile:
        lines += [f"### Where ONNX Runtime's time goes ({profile['size']}, CPU, "
                  f"{profile['threads']} threads)", '',
                  table(['operator', 'ms / frame', 'nodes', 'share'],
                        [(p['op'], p['ms_per_frame'], p['nodes'], f"{p['share']:.0%}")
                         for p in profile['ops']]), '']
    return lines


def pipeline_section(results: Dict[str, Any]) -> List[str]:
    rows = results.get('pipeline', [])
    if not rows:
        return []
    lines = ['## Node per-frame pipeline at camera size', '']
    for row in rows:
        stages = row['stages']
        lines += [f"### {row['camera']} {row['encoding']} -> {row['network']} network (ONNX "
                  'Runtime, CPU)', '',
                  table(['stage', 'p50 ms', 'p99 ms', 'share of frame'],
                        [(s, v['p50_ms'], v['p99_ms'], f"{v['share']:.1%}")
                         for s, v in stages.items()]), '',
                  f"Per frame: {row['total_p50_ms']:.1f} ms (sum of medians, colorize apart); "
                  f"outside inference {row['outside_inference_ms']:.1f} ms = "
                  f"**{row['outside_over_inference']:.1%} of inference**.", '']
    return lines


def confidence_section(results: Dict[str, Any]) -> List[str]:
    cost = results.get('confidence')
    if not cost:
        return []
    depth = cost['depth']
    return [f"### Confidence cost at {cost['camera']} ({cost['network']} network, ONNX Runtime, "
            'CPU)', '',
            "What `depth/confidence` adds to a frame's depth pass (DepthEstimator.predict), per "
            'method (adds_ros.confidence; the node computes it only for a subscriber or the '
            'depth mask), timed in rotating order on one rgb8 frame.', '',
            table(['work', 'p50 ms', 'p99 ms', 'depth + method / depth'],
                  [('depth pass', depth['p50_ms'], depth['p99_ms'], '-')]
                  + [(f'+ {method}', row['p50_ms'], row['p99_ms'],
                      f"{row['frame_ratio']:.2f}x") for method, row in cost['methods'].items()]),
            '']


def estimator_paths_section(results: Dict[str, Any]) -> List[str]:
    paths = results.get('estimator_paths')
    if not paths:
        return []
    rows = paths['rows']
    stages = list(rows[0]['stages'])
    colour, before = paths['colorize'], paths.get('colorize_camera_size')
    return ['## Host path against in-graph pre/post-processing', '',
            f"DepthEstimator on one {rows[0]['camera']} rgb8 frame, {rows[0]['network']} "
            'network, ONNX Runtime on the CPU: the host path (crop/resize and upsample on the '
            'host) and the `adds export --camera-size` model (all of it in the graph; the host '
            'only moves bytes), timed alternately; p50 ms (share of the frame).', '',
            table(['path'] + stages + ['frame ms', 'host share'],
                  [[r['path']] + [f"{fmt(r['stages'][s]['p50_ms'], 2)} "
                                  f"({r['stages'][s]['share']:.0%})" for s in stages]
                   + [r['total_p50_ms'], f"{r['host_share']:.1%}"] for r in rows]), '',
            f"Colourised view alone at {colour['camera']} (the node's: coloured at network "
            f"resolution, then resized): p50 **{colour['p50_ms']:.2f} ms**, p99 "
            f"{colour['p99_ms']:.2f} ms ({colour['n']} calls)"
            + (f"; colouring the camera-size depth instead: p50 {before['p50_ms']:.2f} ms."
               if before else '.'), '']


def echo_rows(echo: Optional[Dict[str, Any]]) -> List[Tuple[str, str]]:
    """Rows of the transport floor: a plain rclpy echo of the same frames, same run."""
    if not echo:
        return []
    node, floor = echo['depth node'], echo['rclpy echo']
    return [(f"lock-step p50 depth node / rclpy echo ({echo['fastdds']}; ms)",
             f"{fmt(node.get('p50_ms'))} / {fmt(floor.get('p50_ms'))}"),
            ('depth node over the echo, p50 (ms)', fmt(echo['node_over_echo_p50_ms']))]


def traffic_section(results: Dict[str, Any]) -> List[str]:
    """Render the report's section: MiB per frame by kind, memory mode and subscribers."""
    traffic = results.get('host_traffic')
    if not traffic:
        return []
    head = ['## Host memory traffic per frame (TensorRT, camera-size model)', '']
    if 'skipped' in traffic:
        return head + [f"Skipped: {traffic['skipped']}.", '']
    rows = [[mode, case] + [fmt(row[k] / 2 ** 20, 2) for k in (*KINDS, 'total')]
            for mode, run in traffic.items() for case, row in run['bytes_per_frame'].items()]
    camera = next(iter(traffic.values()))['camera']
    return head + [f'MiB written per {camera} rgb8 frame by the node\'s pipeline: the decoded '
                   'frame, its copy into the page-locked input (none when decoded into it), '
                   'uploads, downloads and FP16 conversions.', '',
                   table(['memory', 'subscribed'] + list(KINDS) + ['total'], rows), '']


def transport_section(results: Dict[str, Any]) -> List[str]:
    t = results.get('transport')
    if not t:
        return []
    lock, sus, mem = t['lockstep'], t['sustained'], t['memory']
    lat = sus.get('sustained_latency') or {}
    inference = t.get('inference', {}).get('inference')
    defaults = results.get('transport_fastdds_defaults') or {}
    plain = defaults.get('failed') or ' / '.join(
        fmt(defaults.get('lockstep', {}).get(k)) for k in ('p50_ms', 'p99_ms'))
    return ['## End to end through real ROS 2 (rclpy, Fast DDS, separate processes, loopback)',
            '',
            f"A camera node publishes {t['camera']} sensor_msgs/Image; `depth_node` (the console "
            'script, ONNX Runtime, CPU, the tiny test network so that the transport shows) '
            'publishes depth/image; latency is from publish to the depth image received, '
            f"matched by stamp. Fast DDS set-up of every process: {t.get('fastdds')} (the "
            "node's own default), then Fast DDS's defaults for comparison.", '',
            table(['measure', 'value'], [
                ('in-process inference p50 (ms)', fmt(inference, 2)),
                ('lock-step latency p50 minus inference p50 (ms, target <= 10)',
                 fmt(lock['p50_ms'] - inference, 1) if lock.get('p50_ms') and inference
                 else 'n/a'),
                ('lock-step latency p50 / p99 (ms)', f"{fmt(lock.get('p50_ms'))} / "
                                                     f"{fmt(lock.get('p99_ms'))}"),
                ("lock-step latency p50 / p99 with Fast DDS's defaults (ms)", plain),
                *echo_rows(results.get('transport_echo')),
                ('lock-step frames (lost)', f"{lock.get('n', 0)} ({lock['lost']})"),
                ('camera rate asked / achieved (Hz)', f"{fmt(sus['camera_hz'])} / "
                                                      f"{fmt(sus['sent_hz'])}"),
                ('frames sent / depth images received', f"{sus['sent']} / "
                                                        f"{sus['depth_received']}"),
                ('sustained depth rate (Hz)', fmt(sus['depth_hz'], 2)),
                ('sustained latency p50 / p99 (ms)', f"{fmt(lat.get('p50_ms'))} / "
                                                     f"{fmt(lat.get('p99_ms'))}"),
                ('node RSS after warm-up / at end (MiB)', f"{fmt(mem['rss_after_warmup_mib'])}"
                                                          f" / {fmt(mem['rss_end_mib'])}"),
                ('node RSS over the run, min / max sampled (MiB)',
                 f"{fmt(mem['rss_min_mib'])} / {fmt(mem['rss_max_sampled_mib'])}"),
                ('node peak RSS, kernel VmHWM (MiB)', fmt(mem['peak_rss_mib'])),
                ('RSS baseline trend (MiB per 1000 camera frames)',
                 fmt(mem['baseline_growth_mib_per_1000_frames'], 2)),
            ]), '']


def qos_section(results: Dict[str, Any]) -> List[str]:
    rows = results.get('qos')
    if not rows:
        return []
    return ['## Frames delivered per QoS pairing (rclpy, Fast DDS, 10 Hz camera)', '',
            'Depth images back at the camera for frames sent, per camera publisher QoS, node '
            'input QoS (`input_reliability`) and Fast DDS set-up (its defaults, or '
            '`config/fastdds_large_data.xml` in every process). A best-effort camera and a '
            'reliable node do not match at all (the node warns: incompatible QoS).', '',
            table(['Fast DDS', 'camera', 'camera QoS', 'node QoS', 'depth back / sent'],
                  [(r['transport'], r['camera'], r['camera_qos'], r['node_qos'],
                    f"{r['depth_back']} / {r['sent']}" if r['compatible']
                    else f"{r['depth_back']} / {r['sent']} (incompatible)") for r in rows]), '']


def training_section(results: Dict[str, Any]) -> List[str]:
    rows = results.get('training', [])
    if not rows:
        return []
    calls = {r['objective']: ', '.join(f'{k} {v}' for k, v in r['forward_calls_per_step'].items())
             for r in rows}
    return ['## Training step', '',
            'Forward + backward + Adam on synthetic data, each objective and setting in a '
            'fresh process (peak RSS is its own). A sample is one target frame with its two '
            'source frames (ADDS: a day triplet and its fake-night twin). bf16 = the trainer\'s '
            '`amp` (autocast, geometry in fp32); compiled = `compile_losses=true` (view '
            'synthesis through torch.compile). Training GFLOP = 3x the forward\'s convolution '
            'FLOPs; utilisation = achieved / the matmul rate of the Floor section in that '
            'precision.', '',
            table(['objective', 'input', 'batch', 'device', 'precision', 'compiled losses',
                   'step p50 (s)', 'samples/s', 'GFLOP/step', 'utilisation', 'peak RSS (MiB)',
                   'CUDA max allocated (MiB)'],
                  [(r['objective'], r['size'], r['batch'], r['device'],
                    r.get('precision', 'fp32'), 'yes' if r.get('compile_losses') else 'no',
                    r['step_p50_s'], r['samples_per_s'], r.get('train_gflop_per_step'),
                    (f"{r['flop_utilisation']:.1%}" if r.get('flop_utilisation') else None),
                    r['peak_rss_mib'], r['cuda_max_allocated_mib']) for r in rows]), '',
            'Forward calls per step: ' + '; '.join(f'{k}: {v}' for k, v in calls.items()), '']


def targets_section(results: Dict[str, Any]) -> List[str]:
    checks = results.get('targets', [])
    if not checks:
        return []
    status = {True: 'met', False: '**not met**', None: 'not measured'}
    return ['## Targets', '',
            table(['target', 'case', 'measured', 'limit', 'status'],
                  [(c['what'], c['case'], fmt(c['value'], 2),
                    f"{'<=' if c['kind'] == 'max' else '>='} {c['limit']}", status[c['met']])
                   for c in checks]), '']


def render_markdown(results: Dict[str, Any], notes: Sequence[str] = ()) -> str:
    """Render the report as markdown: command and date first, then one section each."""
    head = ['# Benchmarks', '',
            f"Written by `{results['command']}` on {results['date']} "
            f"({results['elapsed_s']:.0f} s). Regenerate with the same command.", '']
    if results.get('resplice'):  # sections of two runs in one report: say which is which
        head += [f"**{results['resplice']}.**", '']
    body = (targets_section(results) + machine_section(results) + inference_section(results)
            + pipeline_section(results) + confidence_section(results)
            + estimator_paths_section(results)
            + traffic_section(results) + transport_section(results) + qos_section(results)
            + training_section(results))
    tail = (['## Findings (computed from this run)', ''] + [f'- {n}' for n in notes] + ['']
            if notes else [])
    return '\n'.join(head + body + tail)


def write_report(results: Dict[str, Any], out: Path, notes: Sequence[str] = ()) -> Path:
    """Write benchmarks.json and benchmarks.md into `out` (atomically); return the .md path."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / 'benchmarks.json', json.dumps(results, indent=1, default=str) + '\n')
    markdown = out / 'benchmarks.md'
    write_text_atomic(markdown, render_markdown(results, notes))
    return markdown

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Run every benchmark of `adds bench` in order and write the report."""

import datetime
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

from tqdm import tqdm

from adds_training.tools.bench import machine, report
from adds_training.tools.bench.config import BenchConfig, Size
from adds_training.tools.bench.findings import findings


def floor_numbers(config: BenchConfig, checkpoint: Path) -> Dict[str, Any]:
    """Matmul rate per device and thread count; the depth network's FLOPs and floor per size.

    The floor uses the machine's best rate (over thread counts): it is the machine's limit.
    """
    import torch

    from adds_training.networks import load_depth_net

    rates = {f'cpu, {n} threads': machine.matmul_rate(config.matmul_size, config.matmul_repeats,
                                                      threads=n)
             for n in config.thread_counts}
    if torch.cuda.is_available():
        rates['cuda'] = machine.matmul_rate(4096, config.matmul_repeats, 'cuda')
        rates['cuda bf16'] = machine.matmul_rate(4096, config.matmul_repeats, 'cuda',
                                                 dtype='bfloat16')
    best_cpu = max(v for k, v in rates.items() if k.startswith('cpu'))
    net, _ = load_depth_net(checkpoint)
    model = {}
    for height, width in config.sizes:
        macs = sum(machine.count_macs(net.eval(), torch.rand(1, 3, height, width)).values())
        model[f'{width}x{height}'] = {
            'gmacs': macs / 1e9, 'gflops': 2 * macs / 1e9,
            'floor_ms_cpu': 2 * macs / best_cpu * 1e3,
            'floor_ms_cuda': 2 * macs / rates['cuda'] * 1e3 if 'cuda' in rates else None}
    return {'matmul_gflops': {k: v / 1e9 for k, v in rates.items()},
            'matmul_size': config.matmul_size, 'matmul_repeats': config.matmul_repeats,
            'model': model}


def bench_ros(config: BenchConfig, results: Dict[str, Any]) -> None:
    """End to end over real rclpy with the tiny model (the transport's cost), and QoS."""
    from adds_ros.testing.tiny_model import tiny_model
    from adds_ros.tools.transport import bench_qos, bench_transport

    tiny = tiny_model(config.work / 'tiny_depth.onnx', 32, 64)
    # The node's own set-up (it applies the large-data profile) gets the long run; Fast DDS's
    # defaults a lock-step comparison, which may deliver nothing at camera size (a result).
    # Each set-up runs in a process of its own (a profile is read once), so a step per run.
    runs = {'transport': ('fastdds_large_data.xml', config.long_run),
            'transport_fastdds_defaults': ('default', 2.0)}
    bar, tick = section_bar('transport', len(runs) + 1)
    for key, (setup, seconds) in runs.items():
        results[key] = bench_transport(tiny, config.camera, config.ros_frames, config.camera_hz,
                                       seconds, config.work, setup=setup)
        tick()
    from adds_ros.tools.echo import bench_echo
    results['transport_echo'] = bench_echo(tiny, config.camera, config.ros_frames, config.work)
    tick()
    bar.close()
    cameras = [(240, 320)] if config.quick else [(480, 640), (960, 1280)]
    bar, tick = section_bar('QoS', 8 * len(cameras))
    results['qos'] = bench_qos(tiny, cameras, 10 if config.quick else 100, 10.0, config.work,
                               tick)
    bar.close()


def section_bar(name: str, total: float) -> Tuple[tqdm, Callable[[], None]]:
    bar = tqdm(total=total, desc=name, unit='step', leave=False, file=sys.stderr)
    return bar, lambda: bar.update(1)


def bench_all_inference(config: BenchConfig, results: Dict[str, Any], checkpoint: Path,
                        onnx: Dict[Size, Path]) -> None:
    """Every size on the CPU at each thread count, then on CUDA (rows say why when absent)."""
    import torch

    from adds_training.tools.bench.inference import bench_inference, onnxruntime_profile
    blocks = [('cpu', n) for n in config.thread_counts] + [('cuda', 0)]
    groups = sum(1 + (n > 1) for n in config.thread_counts)  # spin-wait timed on its own
    bar, tick = section_bar('inference', config.iterations * len(config.sizes) * groups)
    results['inference'] = []
    for device, threads in blocks:
        torch.set_num_threads(threads or config.threads)
        for height, width in config.sizes:
            floor = results['floor']['model'][f'{width}x{height}'][f'floor_ms_{device}']
            results['inference'] += bench_inference(
                checkpoint, onnx[(height, width)], (height, width), device, threads, floor,
                config.iterations, config.warmup, tick)
    torch.set_num_threads(config.threads)
    bar.close()
    size = config.sizes[0]
    results['onnxruntime_profile'] = {
        'size': f'{size[1]}x{size[0]}', 'threads': config.threads,
        'ops': onnxruntime_profile(onnx[size], config.threads, config.profile_runs,
                                   config.work)}


def run_sections(config: BenchConfig, results: Dict[str, Any], checkpoint: Path,
                 onnx: Dict[Size, Path]) -> None:
    """Fill `results` section by section (each imported only when it runs)."""
    main = onnx[tuple(config.sizes[0])]
    if 'inference' not in config.skip:
        bench_all_inference(config, results, checkpoint, onnx)
    if 'pipeline' not in config.skip:
        from adds_training.tools.bench.pipeline import bench_pipeline
        bar, tick = section_bar('pipeline', config.iterations)
        results['pipeline'] = bench_pipeline(main, config.camera, config.iterations,
                                             config.warmup, config.threads, tick)
        bar.close()
        from adds_training.tools.bench.pipeline import bench_confidence
        bar, tick = section_bar('confidence', config.iterations)
        results['confidence'] = bench_confidence(main, config.camera, config.iterations,
                                                 config.warmup, config.threads, tick)
        bar.close()
        from adds_training.tools.bench.pipeline import bench_estimator_paths
        bar, tick = section_bar('estimator paths', config.iterations)
        results['estimator_paths'] = bench_estimator_paths(
            checkpoint, main, config.camera, config.iterations, config.warmup, config.threads,
            tick)
        bar.close()
        from adds_training.tools.bench.traffic import bench_traffic
        results['host_traffic'] = bench_traffic(checkpoint, main, config.camera)
    if 'transport' not in config.skip:
        bench_ros(config, results)
    if 'fuzz' not in config.skip:
        from adds_ros.tools.fuzz import bench_fuzz
        results['fuzz'] = bench_fuzz(50 if config.quick else 1000)
    if 'training' not in config.skip:
        from adds_training.tools.bench.train_step import bench_training, utilisation
        results['training'] = bench_training(('adds', 'monodepth2'), config.train_size,
                                             config.train_batch, config.train_steps,
                                             config.train_warmup, config.threads, 'auto')
        utilisation(results['training'], results.get('floor', {}).get('matmul_gflops', {}))


def run_suite(config: BenchConfig) -> int:
    """Measure, print the markdown report, write it with its JSON into `config.out`."""
    import torch

    started = time.monotonic()
    torch.set_num_threads(config.threads)
    words = sys.argv[1:]  # `adds [-v|-q] bench ...`: keep the log flag, drop the script path
    results: Dict[str, Any] = {
        'command': ' '.join(['adds'] + [shlex.quote(a) for a in words])
        if 'bench' in words[:2] else ' '.join(shlex.quote(a) for a in sys.argv),
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'config': {k: (str(v) if isinstance(v, Path) else v)
                   for k, v in asdict(config).items()},
        'machine': machine.machine_info()}
    from adds_training.tools.bench.models import prepare_models
    checkpoint, onnx = prepare_models(config.work, config.sizes, config.checkpoint)
    results['floor'] = floor_numbers(config, checkpoint)
    run_sections(config, results, checkpoint, onnx)
    results['load_average_end'] = list(os.getloadavg())
    results['elapsed_s'] = time.monotonic() - started
    results['targets'] = report.check_targets(results)
    path = report.write_report(results, config.out, findings(results))
    print(path.read_text())
    print(f'wrote {path} and {path.with_suffix(".json")}')
    return 0

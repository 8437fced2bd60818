# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bench`: host against in-graph paths, colourise row, confidence cost, PyTorch on CUDA.

Benchmarks, not timed tests: nothing here asserts how fast anything is.
"""

import pytest
import torch

from adds_ros.metadata import ModelMetadata
from adds_training.tools.bench import report
from adds_training.tools.bench.inference import (bench_inference, NO_CUDA, PROJECT_TORCH,
                                                 TORCH_VARIANTS)
from adds_training.tools.bench.models import export_for_size, random_checkpoint
from adds_training.tools.bench.pipeline import (bench_confidence, bench_estimator_paths,
                                                PATH_STAGES)

SIZE, CAMERA = (64, 128), (96, 160)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    work = tmp_path_factory.mktemp('bench_paths')
    checkpoint = random_checkpoint(work / 'random.pt', SIZE)
    return checkpoint, export_for_size(checkpoint, work / 'random_128x64.onnx', SIZE)


def test_estimator_paths_time_both_paths_stage_by_stage(models):
    checkpoint, onnx = models
    ticks = []
    result = bench_estimator_paths(checkpoint, onnx, CAMERA, 2, 1, 1, lambda: ticks.append(1))
    assert len(ticks) == 2
    rows = {row['path']: row for row in result['rows']}
    assert set(rows) == {'host', 'in-graph'}
    for row in rows.values():
        assert row['camera'] == '160x96' and row['network'] == '128x64'
        assert list(row['stages']) == list(PATH_STAGES)
        assert all(s['n'] == 2 and s['p50_ms'] >= 0 for s in row['stages'].values())
        assert sum(s['share'] for s in row['stages'].values()) == pytest.approx(1.0)
        assert row['host_share'] == pytest.approx(1.0 - row['stages']['inference']['share'])
    assert result['colorize']['camera'] == '160x96' and result['colorize']['n'] >= 50
    assert result['colorize_camera_size']['n'] == result['colorize']['n']
    exported = onnx.with_name('random_128x64_camera_160x96.onnx')
    metadata = ModelMetadata.from_onnx(exported)
    assert metadata.in_graph and (metadata.camera_height, metadata.camera_width) == CAMERA
    before = exported.stat().st_mtime_ns
    bench_estimator_paths(checkpoint, onnx, CAMERA, 1, 0, 1)
    assert exported.stat().st_mtime_ns == before  # reused, not exported again


def test_confidence_cost_times_the_depth_pass_and_both_methods(models):
    _, onnx = models
    ticks = []
    result = bench_confidence(onnx, CAMERA, 2, 1, 1, lambda: ticks.append(1))
    assert len(ticks) == 2
    assert result['camera'] == '160x96' and result['network'] == '128x64'
    assert result['depth']['n'] == 2 and result['depth']['p50_ms'] > 0
    assert set(result['methods']) == {'flip', 'gradient'}
    for row in result['methods'].values():
        assert row['n'] == 2 and row['p50_ms'] > 0
        assert row['frame_ratio'] == pytest.approx(1 + row['p50_ms'] / result['depth']['p50_ms'])
    text = '\n'.join(report.confidence_section({'confidence': result}))
    assert '### Confidence cost at 160x96 (128x64 network' in text
    for method, row in result['methods'].items():
        assert f"| + {method} | {report.fmt(row['p50_ms'])} |" in text
        assert f"| {row['frame_ratio']:.2f}x |" in text


def test_report_shows_both_paths_and_checks_the_colorize_target():
    stages = {s: {'p50_ms': 1.0, 'p99_ms': 2.0, 'share': 0.25} for s in PATH_STAGES}
    results = {'estimator_paths': {
        'rows': [{'path': p, 'camera': '1280x960', 'network': '512x256', 'stages': stages,
                  'total_p50_ms': 4.0, 'host_share': 0.75} for p in ('host', 'in-graph')],
        'colorize': {'camera': '1280x960', 'n': 50, 'p50_ms': 1.5, 'p99_ms': 3.0},
        'colorize_camera_size': {'n': 50, 'p50_ms': 3.2, 'p99_ms': 4.0}},
        'inference': [{'backend': PROJECT_TORCH, 'device': 'cuda', 'size': '512x256',
                       'p50_ms': 1.2, 'vs_best_pytorch': 1.2}]}
    text = '\n'.join(report.estimator_paths_section(results))
    assert '| host | 1.00 (25%) | 1.00 (25%) | 1.00 (25%) | 1.00 (25%) | 4.0 | 75.0% |' in text
    assert 'p50 **1.50 ms**' in text and 'camera-size depth instead: p50 3.20 ms' in text
    checks = {c['target']: c['met'] for c in report.check_targets(results)}
    assert checks == {'colorize_ms': False, 'torch_vs_best_pytorch': True}


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the rows of a machine without CUDA')
def test_without_cuda_the_pytorch_variants_say_so(models):
    checkpoint, onnx = models
    rows = bench_inference(checkpoint, onnx, SIZE, 'cuda', 0, None, 1, 0)
    reasons = {row['backend']: row.get('skipped') for row in rows}
    for name in [PROJECT_TORCH, *TORCH_VARIANTS]:
        assert reasons[name] == NO_CUDA
    assert all('p50_ms' not in row for row in rows)

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tests of `adds bench`: its counting, statistics and report, and a tiny end-to-end run.

Benchmarks, not timed tests: nothing here asserts how fast anything is.
"""

import argparse
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from adds_ros.metadata import ModelMetadata
from adds_ros.testing.camera import camera_frame
from adds_ros.testing.tiny_model import tiny_model
from adds_ros.tools import stats
from adds_ros.tools.transport import baseline_slope, transport_result
from adds_training.networks import ADDSModel, ModelConfig
from adds_training.tools import bench
from adds_training.tools.bench import findings, machine, report, train_step
from adds_training.tools.bench.models import random_checkpoint
from adds_training.tools.bench.pipeline import frame_stages, pipeline_row, STAGES
from adds_training.tools.bench.train_step import synthetic_batch, train_steps


def test_conv_and_linear_macs_match_hand_counts():
    # 3->8 channels, 3x3 kernel, 10x12 output: 960 outputs x 27 MACs
    assert machine.count_macs(nn.Conv2d(3, 8, 3, padding=1), torch.rand(1, 3, 10, 12)) == \
        {'Conv2d': 960 * 27}
    # grouped: 8 x 3 x 3 outputs, each sees 2 of the 4 input channels x 9 taps
    assert machine.count_macs(nn.Conv2d(4, 8, 3, groups=2), torch.rand(1, 4, 5, 5)) == \
        {'Conv2d': 72 * 18}
    # transposed: every one of the 36 inputs spreads over 2 channels x 2x2 taps
    assert machine.count_macs(nn.ConvTranspose2d(4, 2, 2, stride=2), torch.rand(1, 4, 3, 3)) \
        == {'ConvTranspose2d': 36 * 8}
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 2))
    assert machine.count_macs(model, torch.rand(3, 4, 4)) == {'Linear': 3 * (4 * 16 + 2 * 4)}


def test_counting_leaves_no_hooks_behind():
    conv = nn.Conv2d(1, 1, 1)
    machine.count_macs(conv, torch.rand(1, 1, 2, 2))
    assert not conv._forward_hooks


def test_percentile_and_median_interpolate_linearly():
    values = [4.0, 1.0, 3.0, 2.0]
    assert stats.median(values) == 2.5
    assert stats.percentile(values, 0) == 1.0 and stats.percentile(values, 100) == 4.0
    assert stats.percentile(values, 25) == pytest.approx(1.75)
    with pytest.raises(ValueError, match='no values'):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match=r'\[0, 100\]'):
        stats.percentile(values, 101)


def test_summary_reports_milliseconds_and_rate_at_the_median():
    summary = stats.summarize([0.01, 0.03, 0.02])
    assert summary['n'] == 3
    assert summary['p50_ms'] == pytest.approx(20.0) and summary['fps'] == pytest.approx(50.0)
    assert summary['mean_ms'] == pytest.approx(20.0)
    assert 20.0 < summary['p99_ms'] <= 30.0


def test_interleaving_rotates_the_order_and_warms_up_first():
    order = []
    calls = {name: (lambda n=name: order.append(n)) for name in 'abc'}
    seconds = stats.time_interleaved(calls, iterations=3, warmup=1)
    assert order == list('abc' 'abc' 'bca' 'cab')
    assert {k: len(v) for k, v in seconds.items()} == {'a': 3, 'b': 3, 'c': 3}
    with pytest.raises(ValueError, match='at least 1'):
        stats.time_interleaved(calls, iterations=0)


def test_matmul_rate_is_a_positive_rate_and_restores_threads():
    threads = torch.get_num_threads()
    rate = machine.matmul_rate(size=64, repeats=2, threads=1)
    assert math.isfinite(rate) and rate > 0
    assert torch.get_num_threads() == threads


def test_machine_info_names_the_cpu_and_libraries():
    info = machine.machine_info()
    assert info['logical_cores'] >= 1 and len(info['load_average']) == 3
    assert info['libraries']['numpy'] == np.__version__
    assert info['libraries']['torch'] == torch.__version__


def fake_results(outside: float, speedup: float, floor_ratio: float) -> dict:
    return {
        'command': 'adds bench --quick', 'date': '2026-01-01 00:00 UTC', 'elapsed_s': 1.0,
        'config': {'threads': 2},
        'machine': {'cpu': 'Test CPU', 'physical_cores': 2, 'logical_cores': 2,
                    'memory_gib': 4.0, 'gpu': None, 'os': 'Linux', 'load_average': [1, 2, 3],
                    'libraries': {'numpy': '2', 'tensorrt': None}},
        'load_average_end': [1.5, 2, 3],
        'floor': {'matmul_gflops': {'cpu, 2 threads': 100.0}, 'matmul_size': 64,
                  'matmul_repeats': 2, 'model': {'512x256': {'gmacs': 8.0, 'gflops': 16.0,
                                                             'floor_ms_cpu': 160.0}}},
        'inference': [
            {'backend': 'pytorch eager', 'device': 'cpu', 'threads': 2, 'size': '512x256',
             'p50_ms': 400.0, 'p99_ms': 410.0, 'fps': 2.5, 'floor_ratio': 5.0,
             'speedup_vs_pytorch': 1.0},
            {'backend': 'onnxruntime', 'device': 'cpu', 'threads': 2, 'size': '512x256',
             'p50_ms': 400.0 / speedup, 'p99_ms': 300.0, 'fps': speedup / 0.4,
             'floor_ratio': floor_ratio, 'speedup_vs_pytorch': speedup},
            {'backend': 'tensorrt fp16', 'device': 'cuda', 'threads': None, 'size': '512x256',
             'skipped': 'no GPU'}],
        'pipeline': [pipeline_row('rgb8', (960, 1280), {
            stage: [0.1 if stage == 'inference' else outside / 5 * 0.1] * 3
            for stage in STAGES}, argparse.Namespace(input_width=512, input_height=256))]}


def test_targets_are_checked_against_the_issue_limits():
    good = {(c['target'], c['met']) for c in report.check_targets(fake_results(0.05, 1.5, 2.0))}
    assert good == {('outside_inference', True), ('onnxruntime_vs_pytorch', True),
                    ('floor_ratio', True)}
    bad = {(c['target'], c['met']) for c in report.check_targets(fake_results(0.2, 1.1, 3.0))}
    assert bad == {('outside_inference', False), ('onnxruntime_vs_pytorch', False),
                   ('floor_ratio', False)}


def test_report_writes_markdown_and_json_with_command_and_tables(tmp_path):
    results = fake_results(0.2, 1.5, 2.0)
    results['targets'] = report.check_targets(results)
    path = report.write_report(results, tmp_path / 'out', notes=['a finding'])
    text = path.read_text()
    assert '`adds bench --quick`' in text and '2026-01-01' in text
    assert '| onnxruntime | cpu | 2 | 512x256 | 266.7 |' in text
    assert 'no GPU' in text and '**not met**' in text and '- a finding' in text
    assert 'not installed: tensorrt' in text and 'Test CPU' in text
    assert json.loads((tmp_path / 'out' / 'benchmarks.json').read_text()) == \
        json.loads(json.dumps(results))
    assert not [p for p in (tmp_path / 'out').iterdir() if p.name.startswith('.')]


def test_traffic_section_renders_mib_per_kind_or_why_it_was_skipped():
    row = {'decode': 2.0 ** 20, 'staging': 0.0, 'upload': 2.0 ** 21, 'download': 2.0 ** 19,
           'convert': 0.0, 'total': 3.5 * 2 ** 20}
    run = {'camera': '1280x960', 'bytes_per_frame': {'depth + inverse depth': row}}
    text = '\n'.join(report.traffic_section({'host_traffic': {'pinned': run}}))
    assert '| pinned | depth + inverse depth | 1.00 | 0.00 | 2.00 | 0.5 | 0.00 | 3.50 |' in text
    assert 'per 1280x960 rgb8 frame' in text
    skipped = report.traffic_section({'host_traffic': {'skipped': 'no GPU'}})
    assert 'Skipped: no GPU.' in skipped and report.traffic_section({}) == []


def test_pipeline_row_shares_and_target_ratio():
    samples = {stage: [0.001] * 4 for stage in STAGES}
    samples['inference'] = [0.02] * 4
    row = pipeline_row('bayer_gbrg8', (960, 1280), samples,
                       argparse.Namespace(input_width=512, input_height=256))
    shares = [v['share'] for k, v in row['stages'].items() if 'colorize' not in k]
    assert sum(shares) == pytest.approx(1.0)
    assert row['outside_over_inference'] == pytest.approx(5 * 0.001 / 0.02)
    assert row['camera'] == '1280x960' and row['network'] == '512x256'


@pytest.mark.parametrize('encoding', ['bayer_gbrg8', 'rgb8'])
def test_frame_stages_runs_the_node_steps(tmp_path, encoding):
    from adds_ros.estimator import DepthEstimator
    from adds_ros.messages import image_from_array
    from adds_ros.params import NodeParams
    from adds_ros.pipeline import FramePipeline

    model = tiny_model(tmp_path / 'tiny.onnx', 16, 32, crop=(0.25, 0.75, 0.0, 1.0))
    frame = camera_frame(encoding, 48, 64)
    assert frame.shape == ((48, 64) if encoding.startswith('bayer') else (48, 64, 3))
    with DepthEstimator(model, backend='onnxruntime', device='cpu') as estimator:
        pipeline = FramePipeline(NodeParams(model=str(model)), {'day': estimator})
        stages = frame_stages(image_from_array(frame, encoding), pipeline)
    assert set(stages) == set(STAGES)
    assert all(seconds >= 0 for seconds in stages.values())
    assert (stages['demosaic'] > 0) == encoding.startswith('bayer')


def test_transport_summary_counts_rates_and_memory_growth():
    sent = [i * 0.1 for i in range(200)]
    done = [(i, sent[i] + 0.05) for i in range(0, 200, 2)]
    # RSS swings by 30 MiB every other sample, while its floor rises 1 MiB per second
    rss = [(t * 0.5, (100 + t * 0.5 + 30 * (t % 2)) * 2 ** 20) for t in range(40)]
    out = transport_result([0.04, 0.05], 1, sent, done, 100 * 2 ** 20, rss, 200 * 2 ** 20,
                           (960, 1280), 10.0)
    assert out['lockstep']['n'] == 2 and out['lockstep']['lost'] == 1
    assert out['sustained']['sent_hz'] == pytest.approx(10.0)
    assert out['sustained']['depth_hz'] == pytest.approx(5.0)
    assert out['sustained']['sustained_latency']['p50_ms'] == pytest.approx(50.0)
    assert out['memory']['peak_rss_mib'] == 200.0 and out['memory']['rss_min_mib'] == 100.0
    # 1 MiB/s at 10 frames/s = 100 MiB per 1000 frames, the swings ignored
    assert out['memory']['baseline_growth_mib_per_1000_frames'] == pytest.approx(100.0)
    assert baseline_slope(rss[:4]) is None


def test_transport_section_shows_a_set_up_that_delivered_nothing_and_checks_the_other():
    sent = [i * 0.1 for i in range(20)]
    run = transport_result([0.030, 0.032, 0.034], 0, sent, [(i, t + 0.05) for i, t in
                           enumerate(sent)], 2 ** 27, [(0.0, 2 ** 27)], 2 ** 28, (960, 1280),
                           10.0)
    results = {'transport': dict(run, fastdds='fastdds_large_data.xml',
                                 inference={'inference': 2.0}),
               'transport_fastdds_defaults': {'camera': '1280x960 rgb8', 'fastdds': 'default',
                                              'failed': 'no depth image came back'}}
    text = '\n'.join(report.transport_section(results))
    assert '| lock-step latency p50 minus inference p50 (ms, target <= 10) | 30.0 |' in text
    assert "| lock-step latency p50 / p99 with Fast DDS's defaults (ms) | no depth image " \
           'came back |' in text and 'fastdds_large_data.xml (the node' in text
    checks = report.check_targets(results)
    assert [(c['case'], c['met']) for c in checks] == [
        ('1280x960 rgb8, Fast DDS fastdds_large_data.xml', False)]


def test_synthetic_batch_has_the_objectives_format():
    batch = synthetic_batch(2, 32, 64)
    assert set(batch) == {'day', 'night', 'K', 'inv_K'}
    assert batch['day'][-1].shape == (2, 3, 32, 64)
    assert torch.allclose(batch['K'] @ batch['inv_K'], torch.eye(4).expand(2, 4, 4), atol=1e-5)
    assert batch['K'][0, 0, 2] == pytest.approx(0.50284919765625 * 64)


def test_training_step_runs_each_network_once_per_use():
    result = train_steps('adds', (64, 128), batch=1, steps=1, warmup=0, threads=1)
    calls = result['forward_calls_per_step']
    # one pose pass per source frame, shared by both domains; one depth pass per domain
    assert calls['pose_encoder'] == 2 and calls['invariant'] == 2
    assert calls['private.day'] == 1 and calls['private.night'] == 1
    assert result['peak_rss_mib'] > 0 and result['samples_per_s'] > 0
    # training FLOPs: 3x the forward's, i.e. 6 per multiply-accumulate of every network call
    model = ADDSModel(ModelConfig())
    frames = torch.rand(1, 3, 64, 128)
    forward = sum(sum(machine.count_macs(net, frames).values())
                  for net in (model.invariant, model.private['day'], model.private['night']))
    assert result['train_gflop_per_step'] * 1e9 > 6 * 2 * forward   # + decoders and pose
    assert result['achieved_gflops'] == pytest.approx(
        result['train_gflop_per_step'] / result['step_p50_s'])


def test_a_bf16_step_runs_under_autocast_and_is_labelled():
    result = train_steps('monodepth2', (64, 64), batch=1, steps=1, warmup=0, threads=1,
                         precision='bf16')
    assert result['precision'] == 'bf16' and result['compile_losses'] is False
    assert result['train_gflop_per_step'] > 0


def training_row(objective, precision, compiled, step, device='cuda'):
    return {'objective': objective, 'size': '512x256', 'batch': 6, 'device': device,
            'precision': precision, 'compile_losses': compiled, 'step_p50_s': step,
            'samples_per_s': 6 / step, 'train_gflop_per_step': 600.0,
            'achieved_gflops': 600.0 / step, 'peak_rss_mib': 1.0,
            'cuda_max_allocated_mib': 2.0, 'forward_calls_per_step': {'pose_encoder': 2}}


def test_training_targets_utilisation_and_speedups_on_cuda():
    rows = [training_row('adds', 'fp32', False, 0.12), training_row('adds', 'bf16', False, 0.06),
            training_row('adds', 'fp32', True, 0.10), training_row('adds', 'bf16', True, 0.04),
            training_row('monodepth2', 'fp32', False, 0.05)]
    train_step.utilisation(rows, {'cpu, 1 threads': 50.0, 'cuda': 50000.0,
                                  'cuda bf16': 600000.0})
    assert rows[0]['flop_utilisation'] == pytest.approx(600 / 0.12 / 50000)
    assert rows[1]['flop_utilisation'] == pytest.approx(600 / 0.06 / 600000)
    checks = [c for c in report.check_targets({'training': rows})]
    by_case = {(c['target'], c['case']): c for c in checks}
    best = by_case[('adds_train_samples_per_s', '512x256, batch 6, bf16, compiled losses')]
    assert best['value'] == pytest.approx(150.0) and best['met']
    assert by_case[('bf16_speedup', 'eager')]['value'] == pytest.approx(2.0)
    assert by_case[('bf16_speedup', 'compiled losses')]['value'] == pytest.approx(2.5)
    text = '\n'.join(report.training_section({'training': rows}))
    assert '| adds | 512x256 | 6 | cuda | bf16 | yes | 0.04 | 150.0 | 600.0 | 2.5% |' in text
    lines = findings.training_findings({'training': rows})
    assert 'adds training step against fp32 eager: bf16 2.00x, fp32 + compiled losses ' \
        '1.20x, bf16 + compiled losses 3.00x.' in lines
    cpu = [training_row('adds', 'fp32', False, 1.0, 'cpu')]
    assert not [c for c in report.check_targets({'training': cpu})
                if c['target'].startswith(('adds_train', 'bf16'))]


def prepared_work(work):
    """A work folder as a previous run leaves it: checkpoint plus an export made from it.

    The export is a tiny stand-in network carrying the checkpoint's hash, so the run must
    reuse it (as a resumed run does) instead of spending seconds in the ONNX exporter.
    """
    import onnx

    from adds_training.checkpoint import file_hash

    checkpoint = random_checkpoint(work / 'random_adds_resnet18.pt', (64, 128))
    path = tiny_model(work / 'random_adds_resnet18_128x64.onnx', 64, 128,
                      crop=(1 / 6, 5 / 6, 0.0, 1.0), metric_scale=None)
    metadata = dataclasses.replace(ModelMetadata.from_onnx(path),
                                   source_hash=file_hash([checkpoint]))
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata.to_onnx_props())
    onnx.save(model, str(path))
    return path


@pytest.mark.slow
def test_quick_run_reuses_exports_and_writes_the_report(tmp_path):
    export = prepared_work(tmp_path / 'work')
    before = export.stat().st_mtime_ns
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(['--quick', '--out', str(tmp_path / 'docs'), '--work',
                              str(tmp_path / 'work'), '--skip', 'training'])
    assert bench.run(args) == 0
    assert export.stat().st_mtime_ns == before
    results = json.loads((tmp_path / 'docs' / 'benchmarks.json').read_text())
    measured = [r for r in results['inference'] if 'p50_ms' in r]
    assert {r['backend'] for r in measured} >= {'pytorch eager', 'onnxruntime'}
    assert {r['threads'] for r in measured} == set(results['config']['thread_counts'])
    assert all('skipped' in r for r in results['inference'] if r['device'] == 'cuda') \
        or torch.cuda.is_available()
    assert [r['encoding'] for r in results['pipeline']] == ['bayer_gbrg8', 'rgb8']
    assert set(results['confidence']['methods']) == {'flip', 'gradient'}
    assert results['transport']['sustained']['depth_received'] > 0
    assert results['transport']['lockstep']['lost'] == 0
    # each set-up's run had a camera process of its own (Fast DDS reads a profile once);
    # at the quick run's camera size Fast DDS's defaults deliver too
    assert results['transport']['fastdds'] == 'fastdds_large_data.xml'
    assert results['transport_fastdds_defaults']['lockstep']['lost'] == 0
    assert {r['transport'] for r in results['qos']} == {'default', 'fastdds_large_data.xml'}
    assert all(r['depth_back'] > 0 for r in results['qos'] if r['compatible'])
    assert results['floor']['model']['128x64']['gmacs'] > 0
    text = (tmp_path / 'docs' / 'benchmarks.md').read_text()
    assert '## Targets' in text and '| + gradient |' in text


def test_sizes_are_parsed_rows_first():
    assert bench.size('256x512') == (256, 512)
    for bad in ('256', 'axb', '0x5'):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.size(bad)


@pytest.mark.parametrize('argv,message', [
    (['--iterations', '0'], '--iterations must be at least 1'),
    (['--checkpoint', '/nonexistent/model.pt'], 'no checkpoint at /nonexistent/model.pt'),
])
def test_bad_options_are_refused_with_a_clear_error(tmp_path, capsys, argv, message):
    from adds_ros.cli import main

    assert main(['bench', *argv, '--out', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'adds bench: {message}') and err.count('\n') == 1
    assert not list(tmp_path.iterdir())

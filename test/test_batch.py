# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The batch runner on the local process pool, and the many-input commands built on it.

Outputs are compared with the one-input commands' outputs (identical messages, identical
files); faults are real: a worker SIGKILLed in the middle of a bag, a job that kills its own
worker, a bag that cannot be read.
"""

import argparse
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from adds_ros.atomic import write_text_atomic
from adds_ros.cli import main
from adds_ros.errors import UserError
from adds_training.cyclegan.networks import ResnetGenerator
from adds_training.cyclegan.train import GENERATOR_FORMAT
from adds_training.cyclegan.translate import translate_folder
from adds_training.checkpoint import save_torch_atomic
from adds_training.data import layout
from adds_training.tools import batch
from batch_fixtures import (assert_same_as_one_at_a_time, depth_job, kill_mid_bag_and_check,
                            make_bags, messages, mid_bag, model, one_at_a_time, partials,
                            slow_model)
from batch_jobs import DeviceJob, FileJob, UnloadableJob
from robotcar_fixture import build_raw_sequence


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Three small bags, a tiny model and each bag's depth from the single-bag function."""
    root = tmp_path_factory.mktemp('batch')
    bags = make_bags(root, [4, 6, 5])
    tiny = model(root / 'tiny.onnx')
    return SimpleNamespace(bags=bags, model=tiny,
                           reference=one_at_a_time(bags, root / 'sequential', tiny))


def read_manifest(path: Path) -> dict:
    return json.loads(path.read_text())


def text_inputs(folder: Path, names) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f'text of {name}')
    return [folder / name for name in names]


def test_failed_for_good_after_the_same_failure_twice_or_the_attempt_cap():
    assert not batch.failed_for_good(['A'], 3)
    assert batch.failed_for_good(['A', 'A'], 3)
    assert not batch.failed_for_good(['worker died (SIGKILL)', 'B'], 3)
    assert batch.failed_for_good(['A', 'B', 'C'], 3)


def test_inputs_from_lists_globs_and_folders(tmp_path):
    for name in ('b', 'a', 'c'):
        (tmp_path / 'bags' / name).mkdir(parents=True)
        (tmp_path / 'bags' / name / 'x.ok').touch()
    (tmp_path / 'bags' / 'notes').mkdir()
    is_input = (lambda p: (p / 'x.ok').exists())  # noqa: E731
    folder = batch.expand_inputs([str(tmp_path / 'bags')], is_input, 'bag')
    assert [p.name for p in folder] == ['a', 'b', 'c']
    mixed = batch.expand_inputs([str(tmp_path / 'bags' / '[ab]'), str(tmp_path / 'bags' / 'a'),
                                 str(tmp_path / 'bags' / 'c')], is_input, 'bag')
    assert [p.name for p in mixed] == ['a', 'b', 'c']  # the repeated input runs once
    assert batch.is_batch([str(tmp_path / 'bags')], is_input)
    assert not batch.is_batch([str(tmp_path / 'bags' / 'a')], is_input)
    with pytest.raises(batch.UserError, match='neither a bag nor a folder'):
        batch.expand_inputs([str(tmp_path / 'bags' / 'notes')], is_input, 'bag')
    with pytest.raises(batch.UserError, match='matches no bag'):
        batch.expand_inputs([str(tmp_path / 'none*')], is_input, 'bag')
    (tmp_path / 'other' / 'a').mkdir(parents=True)
    with pytest.raises(batch.UserError, match='would both write'):
        batch.tasks_into([tmp_path / 'bags' / 'a', tmp_path / 'other' / 'a'], tmp_path / 'out')


def test_shared_options_resolve_jobs_and_manifest_and_refuse_bad_values(tmp_path):
    """The batch options are declared once (BatchOptions); their values are checked."""
    parser = argparse.ArgumentParser()
    batch.add_arguments(parser)
    default = tmp_path / 'manifest-x.json'
    cfg = batch.config_from_args(parser.parse_args([]), default)
    assert (cfg.manifest, cfg.jobs, cfg.gpus, cfg.ray) == (default, 1, 0, None)
    assert cfg.cpus_per_job == 1.0
    cfg = batch.config_from_args(parser.parse_args(['--gpus', '3', '--manifest', 'm.json']),
                                 default)
    assert (cfg.manifest, cfg.jobs, cfg.gpus) == (Path('m.json'), 3, 3)
    assert batch.config_from_args(parser.parse_args(['--gpus', '2', '--jobs', '5']),
                                  default).jobs == 5
    for words, name in ((['--jobs', '0'], 'jobs'), (['--gpus', '-1'], 'gpus'),
                        (['--cpus-per-job', '0'], 'cpus_per_job')):
        with pytest.raises(UserError, match=f"option '{name}' = "):
            batch.config_from_args(parser.parse_args(words), default)


def test_a_manifest_of_another_command_is_refused(tmp_path):
    write_text_atomic(tmp_path / 'm.json', json.dumps({'command': 'prepare', 'tasks': {}}))
    with pytest.raises(batch.UserError, match='manifest of `adds prepare`'):
        batch.run_batch(FileJob(), [], batch.BatchConfig(manifest=tmp_path / 'm.json'))


@pytest.mark.slow
def test_a_dying_worker_is_replaced_and_the_same_failure_twice_fails_the_task(tmp_path):
    inputs = text_inputs(tmp_path / 'in', ['a', 'crash', 'flaky', 'd'])
    tasks = batch.tasks_into(inputs, tmp_path / 'out')
    cfg = batch.BatchConfig(manifest=tmp_path / 'out' / 'm.json', jobs=2)
    report = batch.run_batch(FileJob(crash={'crash'}, flaky={'flaky'}), tasks, cfg)
    records = {Path(k).name: r for k, r in report.records.items()}
    assert report.failed == [str(inputs[1].absolute())] and not report.ok
    assert records['crash']['status'] == 'failed'
    assert records['crash']['errors'] == ['worker died (SIGKILL)'] * 2
    assert (records['flaky']['status'], records['flaky']['attempts']) == ('done', 2)
    assert [records[n]['attempts'] for n in ('a', 'd')] == [1, 1]
    for name in ('a', 'flaky', 'd'):
        assert (tmp_path / 'out' / name).read_text() == f'TEXT OF {name.upper()}'
    assert not (tmp_path / 'out' / 'crash').exists()
    assert read_manifest(cfg.manifest)['summary'] == {'done': 3, 'failed': 1}


@pytest.mark.slow
def test_a_worker_that_cannot_start_is_one_clear_error(tmp_path):
    inputs = text_inputs(tmp_path / 'in', ['a'])
    cfg = batch.BatchConfig(manifest=tmp_path / 'out' / 'm.json', jobs=2)
    with pytest.raises(batch.UserError, match='worker could not start: RuntimeError: cannot '
                       'load the job here'):
        batch.run_batch(UnloadableJob(), batch.tasks_into(inputs, tmp_path / 'out'), cfg)
    assert read_manifest(cfg.manifest)['summary'] == {'pending': 1}


@pytest.mark.slow
def test_gpus_are_dealt_to_workers_one_each(tmp_path):
    inputs = text_inputs(tmp_path / 'in', ['a', 'b', 'c', 'd', 'e'])
    cfg = batch.BatchConfig(manifest=tmp_path / 'out' / 'm.json', jobs=3, gpus=2)
    report = batch.run_batch(DeviceJob(), batch.tasks_into(inputs, tmp_path / 'out'), cfg)
    assert report.ok
    seen = {}
    for record in report.records.values():
        seen.setdefault(record['worker']['pid'], set()).add(Path(record['output']).read_text())
    assert all(len(gpus) == 1 for gpus in seen.values())  # a worker keeps its one GPU
    assert set.union(*seen.values()) <= {'0', '1'}


@pytest.mark.slow
def test_pool_equals_one_at_a_time_and_each_worker_loads_the_model_once(scene, tmp_path):
    out = tmp_path / 'out'
    cfg = batch.BatchConfig(manifest=out / 'manifest.json', jobs=2)
    report = batch.run_batch(depth_job(scene.model), batch.tasks_into(scene.bags, out), cfg)
    assert report.ok and report.frames == 15 and report.ran == 3
    assert_same_as_one_at_a_time(out, scene.bags, scene.reference)
    data = read_manifest(cfg.manifest)
    assert data['command'] == 'bag-depth' and data['summary'] == {'done': 3}
    workers = set()
    loads = 0
    for bag, frames in zip(scene.bags, (4, 6, 5)):
        record = data['tasks'][str(bag.absolute())]
        assert record['output'] == str(out.absolute() / bag.name)
        assert (record['status'], record['attempts'], record['error']) == ('done', 1, None)
        assert record['counts']['frames'] == record['counts']['written'] == frames
        assert record['seconds'] > 0
        workers.add(record['worker']['pid'])
        loads += record['counts']['models_loaded']
    assert len(workers) <= 2 and loads == len(workers)  # three bags, one model per worker


@pytest.mark.slow
def test_one_unreadable_bag_fails_alone_and_a_rerun_resumes(scene, tmp_path):
    broken = tmp_path / 'in' / 'broken'
    shutil.copytree(scene.bags[0], broken)
    mcap = next(broken.glob('*.mcap'))
    mcap.write_bytes(mcap.read_bytes()[:mcap.stat().st_size // 2])
    out = tmp_path / 'out'
    tasks = batch.tasks_into(scene.bags[:2] + [broken], out)
    cfg = batch.BatchConfig(manifest=out / 'manifest.json', jobs=2)
    assert batch.run_command(depth_job(scene.model), tasks, cfg) == 1
    record = read_manifest(cfg.manifest)['tasks'][str(broken.absolute())]
    assert record['status'] == 'failed' and record['attempts'] == 2
    assert 'cannot read' in record['error'] and 'MCAP cut short' in record['error']
    assert not (out / 'broken').exists() and partials(out) == []
    assert_same_as_one_at_a_time(out, scene.bags[:2], scene.reference)
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob('drive*/*')}
    shutil.rmtree(broken)
    shutil.copytree(scene.bags[2], broken)  # the recording, copied again in full
    report = batch.run_batch(depth_job(scene.model), tasks, cfg)
    assert report.ok and report.ran == 1  # only the failed input ran again
    assert finished == {p.name: p.stat().st_mtime_ns for p in out.glob('drive*/*')}
    assert messages(out / 'broken') == messages(scene.reference[scene.bags[2].name])
    assert read_manifest(cfg.manifest)['summary'] == {'done': 3}


@pytest.mark.slow
def test_a_worker_killed_mid_bag_costs_a_retry_not_a_partial_output(tmp_path):
    size = (96, 128)
    bags = make_bags(tmp_path, [40, 3, 3], size)
    slow = slow_model(tmp_path / 'slow.onnx', size)
    reference = one_at_a_time(bags, tmp_path / 'sequential', slow)
    out = tmp_path / 'out'
    cfg = batch.BatchConfig(manifest=out / 'manifest.json', jobs=2)
    kill_mid_bag_and_check(bags, slow, reference, cfg, out)


@pytest.mark.slow
def test_sigterm_stops_a_batch_cleanly_and_a_rerun_finishes_it(tmp_path):
    size = (96, 128)
    bags = make_bags(tmp_path, [40, 40, 3], size)
    slow = slow_model(tmp_path / 'slow.onnx', size)
    out = tmp_path / 'out'
    command = ['bag-depth', str(bags[0].parent), '--out', str(out), '--model', str(slow),
               '--jobs', '2']
    driver = subprocess.Popen([sys.executable, '-m', 'adds_ros.cli'] + command,
                              stderr=subprocess.PIPE, text=True)
    mid_bag(out / 'manifest-bag-depth.json', bags[0])
    driver.send_signal(signal.SIGTERM)  # what timeout, docker stop and systemd send
    stderr = driver.communicate(timeout=120)[1]
    assert driver.returncode == 130
    assert 'interrupted: SIGTERM: ' in stderr and 'left pending' in stderr
    assert partials(out) == [] and not (out / bags[0].name).exists()
    statuses = read_manifest(out / 'manifest-bag-depth.json')['summary']
    assert 'running' not in statuses and statuses['pending'] >= 1
    assert main(command) == 0
    reference = one_at_a_time(bags, tmp_path / 'sequential', slow)
    assert_same_as_one_at_a_time(out, bags, reference)


# ---- the commands ------------------------------------------------------------------------


@pytest.mark.slow
def test_bag_depth_command_many_inputs_and_one(scene, tmp_path, capsys):
    folder = scene.bags[0].parent
    args = ['--model', str(scene.model), '--jobs', '2']
    assert main(['bag-depth', str(folder), '--out', str(tmp_path / 'many')] + args) == 0
    assert '3 inputs: 3 done, 0 already done, 0 failed' in capsys.readouterr().out
    assert_same_as_one_at_a_time(tmp_path / 'many', scene.bags, scene.reference)
    assert main(['bag-depth', str(folder / 'drive*'), '--out', str(tmp_path / 'many')]
                + args) == 0
    assert '3 inputs: 0 done, 3 already done, 0 failed' in capsys.readouterr().out
    assert main(['bag-depth', str(scene.bags[1]), '--out', str(tmp_path / 'one'),
                 '--model', str(scene.model)]) == 0  # one bag: the bag itself, as before
    assert messages(tmp_path / 'one') == messages(scene.reference[scene.bags[1].name])
    assert not (tmp_path / 'one' / 'manifest-bag-depth.json').exists()
    assert main(['bag-depth', str(folder), '--out', str(tmp_path / 'x'), '--gt',
                 str(tmp_path), '--gt-folder', 'f'] + args) == 2
    assert '--gt scores one bag' in capsys.readouterr().err


def two_sequences(root: Path) -> SimpleNamespace:
    """Two raw RobotCar sequences side by side in `root/drives`, with the SDK folders."""
    for name in ('day_a', 'day_b'):
        fx = build_raw_sequence(root / name, n_frames=4, size=(960, 1280), static=(),
                                focal=(layout.ROBOTCAR_FOCAL,) * 2,
                                principal=layout.ROBOTCAR_PRINCIPAL)
        (root / 'drives').mkdir(exist_ok=True)
        (root / name / 'seq').rename(root / 'drives' / name)
    return SimpleNamespace(drives=root / 'drives', models=fx.models, extrinsics=fx.extrinsics)


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and not p.name.startswith('manifest-')}


@pytest.mark.slow
def test_prepare_and_gt_over_many_sequences_equal_one_at_a_time(tmp_path, capsys):
    raw = two_sequences(tmp_path)
    prepare = ['--models', str(raw.models), '--workers', '1']
    gt = prepare + ['--extrinsics', str(raw.extrinsics)]
    for name in ('day_a', 'day_b'):
        one = ['--raw', str(raw.drives / name), '--out', str(tmp_path / 'single'), '--folder',
               name]
        assert main(['prepare'] + one + prepare) == 0
        assert main(['gt'] + one + gt) == 0
    many = ['--raw', str(raw.drives), '--out', str(tmp_path / 'batch'), '--jobs', '2']
    assert main(['prepare'] + many + prepare) == 0
    assert main(['gt'] + many + gt) == 0
    assert tree(tmp_path / 'batch') == tree(tmp_path / 'single')
    assert len(list((tmp_path / 'batch' / 'day_b_gt').glob('*.png'))) == 4
    manifest = read_manifest(tmp_path / 'batch' / 'manifest-gt.json')
    record = manifest['tasks'][str((raw.drives / 'day_a').absolute())]
    assert record['output'] == str((tmp_path / 'batch' / 'day_a_gt').absolute())
    assert record['counts']['done'] == record['counts']['frames'] == 4
    capsys.readouterr()
    assert main(['gt'] + many + gt) == 0  # a rerun skips what is done
    assert 'gt: 2 inputs: 0 done, 2 already done, 0 failed' in capsys.readouterr().out
    assert main(['prepare'] + many + prepare + ['--folder', 'x']) == 2
    assert '--folder name(s) one sequence' in capsys.readouterr().err


@pytest.mark.slow
def test_translate_many_folders_equals_one_at_a_time(tmp_path):
    torch.manual_seed(0)
    generator = ResnetGenerator(4, 1)
    checkpoint = tmp_path / 'day2night.pt'
    save_torch_atomic(checkpoint, {'format': GENERATOR_FORMAT, 'generator':
                                   generator.state_dict(),
                                   'config': dict(ngf=4, n_blocks=1, height=32, width=32)})
    rng = np.random.default_rng(0)
    for folder in ('day_a', 'day_b'):
        for i in range(3):
            layout.write_rgb(tmp_path / 'days' / folder / layout.frame_name(i),
                             rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
        translate_folder(checkpoint, tmp_path / 'days' / folder, tmp_path / 'single' / folder,
                         device='cpu')
    assert main(['cyclegan', 'translate', '--checkpoint', str(checkpoint), '--in',
                 str(tmp_path / 'days' / 'day_*'), '--out', str(tmp_path / 'batch'),
                 '--device', 'cpu', '--jobs', '2']) == 0
    assert tree(tmp_path / 'batch') == tree(tmp_path / 'single')
    assert len(tree(tmp_path / 'batch')) == 6

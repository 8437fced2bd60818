# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The trainer on a tiny dataset: learning, checkpoints, exact resume, non-finite steps."""

import math
import warnings

import numpy as np
import pytest
import torch

from adds_training.checkpoint import load_checkpoint
from adds_training.trainer import NonFiniteLossError, SeededDataset, Trainer
from test_trainer_support import make_tiny_dataset, one_thread, tiny_config  # noqa: F401

# Tiny runs use the reference depth range on purpose; its from-scratch warning is tested below.
pytestmark = [pytest.mark.usefixtures('one_thread'),
              pytest.mark.filterwarnings('ignore:training from random initialisation')]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('tiny'))


def _params(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.named_parameters()}


def test_short_run_decreases_the_loss(data, tmp_path):
    trainer = Trainer(tiny_config(data, tmp_path, mode='monodepth2', augment=False))
    batch = next(iter(trainer.loader))
    losses = [trainer.train_step(batch)['loss'] for _ in range(4)]
    assert losses[-1] < 0.5 * losses[0], losses


def test_warm_up_scales_the_first_steps_and_leaves_the_schedule_alone(data, tmp_path):
    # Adam's update is lr * m / sqrt(v): about lr per parameter on a steady gradient, so the
    # largest change of a step shows the learning rate that step used.
    trainer = Trainer(tiny_config(data, tmp_path, mode='monodepth2', augment=False,
                                  lr_warmup_steps=4))
    batch = next(iter(trainer.loader))
    lr = trainer.config.lr
    for step in range(6):
        before = _params(trainer)
        trainer.train_step(batch)
        trainer.step += 1
        largest = max(float((p.detach() - before[k]).abs().max())
                      for k, p in trainer.model.named_parameters())
        assert largest == pytest.approx(lr * min(1.0, (step + 1) / 4), rel=0.03), step
        assert trainer.optimizer.param_groups[0]['lr'] == lr  # the scheduler's value


def test_validation_leaves_the_training_trajectory_alone(data, tmp_path):
    # Validation's DataLoader draws a seed from torch's generator, which the automasking tie
    # noise also uses: without care, the validation schedule changed every later step.
    def trained(out: str, **overrides):
        trainer = Trainer(tiny_config(data, tmp_path / out, mode='monodepth2', max_steps=4,
                                      **overrides))
        trainer.fit()
        return trainer.model.state_dict()

    validated, unvalidated = trained('val', val_every_steps=1), trained('none', val_splits=[])
    assert all(torch.equal(validated[k], unvalidated[k]) for k in validated)


@pytest.mark.slow
def test_adds_run_writes_project_checkpoints_and_logs(data, tmp_path):
    from adds_training.networks import load_depth_net

    config = tiny_config(data, tmp_path, mode='adds', max_steps=2, image_every=1)
    summary = Trainer(config).fit()
    assert summary['step'] == 2 and summary['nonfinite_steps'] == 0
    expected = {'loss', 'similarity', 'reconstruction/night', 'orthogonality_code/day',
                'view_synthesis/night'}
    assert expected <= set(summary['last'])
    state = load_checkpoint(tmp_path / 'last.pt')
    assert state['format'] == 'adds_ros/1' and state['step'] == 2
    assert state['config']['model']['num_layers'] == 18
    meta = state['meta']
    assert (meta['height'], meta['width']) == (64, 128)
    assert meta['crop'] == [0.0, 1.0, 0.0, 1.0] and meta['intrinsics'][1][1] == 1.2
    assert (meta['min_depth'], meta['max_depth']) == (0.1, 100.0)
    # one epoch (2 steps) ran, so the model was selected on the validation splits
    best = load_checkpoint(tmp_path / 'best.pt')
    assert best['best'] == pytest.approx(summary['best_val_abs_rel'])
    assert best['best_step'] == best['step'] == 2 and best['meta'] == meta
    # the selected model alone: no optimiser (it doubles the file), so no resuming from it
    assert not {'optimizer', 'rng', 'scheduler'} & set(best)
    assert (tmp_path / 'best.pt').stat().st_size < 0.6 * (tmp_path / 'last.pt').stat().st_size
    net, info = load_depth_net(tmp_path / 'best.pt')
    assert net(torch.rand(1, 3, 64, 128))[0].shape == (1, 1, 64, 128)
    assert list((tmp_path / 'tensorboard').glob('events.*'))


@pytest.mark.slow
@pytest.mark.parametrize('mode, size, workers', [
    ('monodepth2', (64, 128), (0, 0, 0)),
    # ADDS at 64x64; workers: straight run 1, killed run 2, resumed run 1
    ('adds', (64, 64), (1, 2, 1)),
])
def test_kill_and_resume_continues_exactly(data, tmp_path, monkeypatch, mode, size, workers):
    # 4 training samples, batch 2: 2 steps an epoch; the kill lands inside the second epoch.
    common = dict(mode=mode, max_steps=4, val_splits=[], lr=1e-3, height=size[0],
                  width=size[1])
    straight = Trainer(tiny_config(data, tmp_path / 'a', num_workers=workers[0], **common))
    straight.fit()

    killed = Trainer(tiny_config(data, tmp_path / 'b', checkpoint_every=1,
                                 num_workers=workers[1], **common))
    real_step = Trainer.train_step

    def dies_at_step_4(self, batch):
        if self.step == 3:
            raise KeyboardInterrupt('killed')
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, 'train_step', dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    monkeypatch.setattr(Trainer, 'train_step', real_step)
    torch.manual_seed(1234)  # a fresh process would not share the killed run's RNG state
    resumed = Trainer(tiny_config(data, tmp_path / 'b', num_workers=workers[2], **common))
    resumed.resume(tmp_path / 'b' / 'last.pt')
    assert (resumed.step, resumed.epoch, resumed.batch_in_epoch) == (3, 1, 1)
    resumed.fit()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert resumed.scheduler.state_dict() == straight.scheduler.state_dict()


def test_resume_refuses_a_different_config(data, tmp_path):
    Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=1, val_splits=[])).fit()
    other = Trainer(tiny_config(data, tmp_path, mode='monodepth2', lr=0.5, val_splits=[]))
    with pytest.raises(ValueError, match='lr'):
        other.resume(tmp_path / 'last.pt')


def test_resume_of_a_checkpoint_older_than_a_config_key(data, tmp_path):
    """A key the checkpoint predates counts as its default; a changed one is refused."""
    from adds_training.checkpoint import save_checkpoint

    Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=1, val_splits=[])).fit()
    state = load_checkpoint(tmp_path / 'last.pt')
    del state['config']['domain_batch']   # written before the key existed
    save_checkpoint(tmp_path / 'last.pt', state)
    again = Trainer(tiny_config(data, tmp_path, mode='monodepth2', val_splits=[]))
    again.resume(tmp_path / 'last.pt')
    assert again.step == 1
    joint = Trainer(tiny_config(data, tmp_path, mode='monodepth2', val_splits=[],
                                domain_batch='joint'))
    with pytest.raises(ValueError, match='domain_batch'):
        joint.resume(tmp_path / 'last.pt')


def test_per_image_test_normalisation_validates_and_loads_as_it_deploys(data, tmp_path):
    """test_normalisation=per_image: validation and the checkpoint's loader use each image's
    statistics; training keeps its BatchNorm."""
    from adds_training.networks import load_depth_net

    config = tiny_config(data, tmp_path, mode='monodepth2', max_steps=1,
                         test_normalisation='per_image')
    trainer = Trainer(config)
    summary = trainer.fit()
    tested = trainer._test_net('day')
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in tested.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in trainer.model.modules())
    assert load_checkpoint(tmp_path / 'best.pt')['meta']['normalisation'] == 'per_image'
    net, info = load_depth_net(tmp_path / 'best.pt')
    assert info['normalisation'] == 'per_image'
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    # the validation score is the per-image network's
    from adds_training.evaluate import evaluate_split
    from adds_training.metrics import get_protocol, mean_metrics

    scores = [mean_metrics(evaluate_split(net, str(data), split, [get_protocol('full40')],
                                          config.height, config.width, config.min_depth,
                                          config.max_depth)['full40'])['abs_rel']
              for split in config.val_splits]
    assert summary['best_val_abs_rel'] == pytest.approx(float(np.mean(scores)), rel=1e-4)


def test_resume_from_a_selected_model_is_refused(data, tmp_path):
    from adds_ros.errors import UserError

    Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=1)).fit()
    again = Trainer(tiny_config(data, tmp_path, mode='monodepth2'))
    with pytest.raises(UserError, match='best.pt holds a selected model only.*last.pt'):
        again.resume(tmp_path / 'best.pt')


@pytest.mark.slow
def test_resume_with_another_number_of_processes_is_refused(data, tmp_path):
    from adds_ros.errors import UserError
    from adds_training.checkpoint import save_checkpoint

    Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=1, val_splits=[])).fit()
    state = load_checkpoint(tmp_path / 'last.pt')
    assert state['world_size'] == 1
    state['world_size'] = 2
    save_checkpoint(tmp_path / 'last.pt', state)
    again = Trainer(tiny_config(data, tmp_path, mode='monodepth2', val_splits=[]))
    with pytest.raises(UserError, match='2 process.*this one has 1'):
        again.resume(tmp_path / 'last.pt')


@pytest.mark.slow
def test_term_gradient_norms_reach_the_summary_and_tensorboard(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(data, tmp_path, mode='adds', height=64, width=64, max_steps=3,
                         grad_norm_every=2, val_splits=[])
    summary = Trainer(config).fit()
    norms = summary['shared_grad_norms']
    assert sorted(norms) == [0, 2]          # measured before steps 1 and 3
    assert set(norms[0]) == {'photometric', 'smoothness', 'reconstruction', 'similarity',
                             'orthogonality_code', 'orthogonality_gram'}
    assert all(value > 0 for value in norms[0].values())
    events = EventAccumulator(str(tmp_path / 'tensorboard'))
    events.Reload()
    tags = events.Tags()['scalars']
    assert 'grad_norm_shared/orthogonality_code' in tags
    assert [e.step for e in events.Scalars('grad_norm_shared/photometric')] == [0, 2]
    assert load_checkpoint(tmp_path / 'last.pt')['grad_norms'][2] == norms[2]
    # the stall signal: logged every log_every (1) step, the last one in the summary
    ratios = events.Scalars('geometry/translation_to_depth')
    assert [e.step for e in ratios] == [1, 2, 3]
    assert ratios[-1].value == pytest.approx(summary['translation_to_depth'], rel=1e-6)
    assert all(0 < e.value < 10 for e in ratios)


def test_nonfinite_loss_is_skipped_and_reported(data, tmp_path, caplog):
    trainer = Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_nonfinite=2))
    batch = next(iter(trainer.loader))
    real_forward = trainer.objective.forward

    def poisoned(b):
        terms = real_forward(b)
        terms['loss'] = terms['loss'] * math.nan
        return terms

    trainer.train_step(batch)
    before = _params(trainer)
    trainer.objective.forward = poisoned
    assert trainer.train_step(batch) is None
    after = _params(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trainer.nonfinite_total == 1
    assert 'non-finite' in caplog.text  # a logged warning (stderr), no longer on stdout
    trainer.objective.forward = real_forward
    assert trainer.train_step(batch) is not None and trainer.nonfinite_run == 0
    trainer.objective.forward = poisoned
    trainer.train_step(batch)
    with pytest.raises(NonFiniteLossError, match='2 consecutive'):
        trainer.train_step(batch)
    assert trainer.nonfinite_total == 3


def test_augmentation_depends_only_on_seed_epoch_and_index(data):
    from adds_training.data.datasets import TripletDataset

    dataset = SeededDataset(TripletDataset(data, 'train', 64, 128), seed=5)
    first = [dataset[i]['day'][0] for i in range(4)]
    torch.rand(10)  # disturbing the caller's generator must not matter
    again = [dataset[i]['day'][0] for i in reversed(range(4))][::-1]
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    dataset.set_epoch(1)
    assert not all(torch.equal(x, dataset[i]['day'][0]) for i, x in enumerate(first))


@pytest.mark.slow
def test_cli_resumes_from_last_checkpoint(data, tmp_path, caplog):
    import argparse

    from adds_training import trainer

    parser = argparse.ArgumentParser()
    trainer.add_arguments(parser)
    common = [f'data_root={data}', f'out_dir={tmp_path}', 'mode=monodepth2', 'height=64',
              'width=128', 'batch_size=2', 'num_workers=0', 'val_splits=[]', 'cpu_threads=1']
    assert trainer.run(parser.parse_args(common + ['max_steps=1'])) == 0
    with caplog.at_level('INFO', logger='adds_training'):  # progress: logged, not stdout
        assert trainer.run(parser.parse_args(common + ['max_steps=2'])) == 0
    assert 'resuming from' in caplog.text
    assert load_checkpoint(tmp_path / 'last.pt')['step'] == 2


def test_from_scratch_with_the_reference_depth_range_is_warned_about(data, tmp_path):
    with pytest.warns(UserWarning, match='min_depth=0.01'):
        Trainer(tiny_config(data, tmp_path, mode='monodepth2', min_depth=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        Trainer(tiny_config(data, tmp_path, mode='monodepth2', min_depth=0.01))


def test_a_bad_loss_formulation_is_a_config_error(data, tmp_path):
    from adds_training.config import ConfigError

    with pytest.raises(ConfigError, match='loss.balance must be one of'):
        Trainer(tiny_config(data, tmp_path, loss={'balance': 'auto'}))

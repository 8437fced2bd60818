# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CycleGAN: networks, data order, training, exact resume, translation, metrics and CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from adds_ros.cli import main
from adds_ros.errors import UserError
from adds_ros.preprocess import image_files
from adds_training.cyclegan.data import augment, epoch_plan, equalize_luminance
from adds_training.cyclegan.metrics import (histogram_distance, image_statistics, mean_abs_error,
                                            sample_strip)
from adds_training.cyclegan.networks import PatchDiscriminator, ResnetGenerator
from adds_training.cyclegan.train import (CHECKPOINT, CycleGANConfig, CycleGANTrainer,
                                          ImageHistory, lr_factor, train_cyclegan)
from adds_training.cyclegan.translate import translate_folder, translate_split
from adds_training.data import layout


def make_images(folder: Path, count: int, level: float, seed: int, size=(40, 40)) -> None:
    """Noisy textured images around a brightness `level` (day bright, night dark)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = rng.normal(level, 30, (*size, 3)) + np.linspace(-20, 20, size[1])[None, :, None]
        layout.write_rgb(folder / layout.frame_name(i), np.clip(image, 0, 255).astype(np.uint8))


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tiny convolutions run fastest on one thread, above all on a busy shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def domains(tmp_path):
    make_images(tmp_path / 'day', 4, 170, seed=1)
    make_images(tmp_path / 'night', 3, 40, seed=2)
    return tmp_path


def tiny_config(base_dir: Path, out: str, **kwargs) -> CycleGANConfig:
    base = dict(out=str(base_dir / out), day=str(base_dir / 'day'), night=str(base_dir / 'night'),
                height=32, width=32, ngf=8, ndf=8, n_blocks=2, epochs=1, epochs_decay=1,
                num_workers=0, save_every=2, seed=3, pool_size=2)
    base.update(kwargs)
    return CycleGANConfig(**base)


def test_generator_keeps_size_and_range():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    y = ResnetGenerator(ngf=4, n_blocks=6)(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    with pytest.raises(ValueError, match='multiple of 4'):
        ResnetGenerator(ngf=4, n_blocks=1)(torch.zeros(1, 3, 30, 32))


def test_patchgan_receptive_field_is_70():
    torch.manual_seed(0)
    disc = PatchDiscriminator(ndf=4)
    for i, layer in enumerate(disc.model):  # instance norm statistics see the whole image
        if isinstance(layer, torch.nn.InstanceNorm2d):
            disc.model[i] = torch.nn.Identity()
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    scores = disc(x)
    scores[0, 0, scores.shape[2] // 2, scores.shape[3] // 2].backward()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)))
    assert int(cols.max() - cols.min()) + 1 == 70


def test_lr_constant_then_linear_to_zero():
    factors = [lr_factor(s, 10, 2, 3) for s in range(50)]
    assert factors[:20] == [1.0] * 20
    assert np.allclose(np.diff(factors[20:]), -1 / 30)
    assert factors[-1] == pytest.approx(1 / 30)


def test_history_buffer_fills_then_mixes_and_restores():
    history = ImageHistory(3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(history.query(first), first)
    state = history.state_dict()
    new = torch.full((64, 1, 1, 1), 9.0)
    out = history.query(new)
    old = (out != 9).sum().item()
    assert 0 < old <= 3 and len(history.images) == 3
    history.load_state_dict(state, torch.device('cpu'))
    assert torch.equal(history.query(new), out)


def test_epoch_plan_is_deterministic_and_walks_all_day_images():
    plan = epoch_plan(5, 2, n_day=4, n_night=7, length=7)
    assert plan == epoch_plan(5, 2, 4, 7, 7) and plan != epoch_plan(5, 3, 4, 7, 7)
    assert sorted(d for d, _, _ in plan[:4]) == [0, 1, 2, 3]
    assert all(0 <= n < 7 for _, n, _ in plan)


def test_augment_crops_to_size_and_equalize_spreads_luminance():
    rgb = np.random.default_rng(0).integers(60, 80, (50, 70, 3)).astype(np.uint8)
    assert augment(rgb, (32, 48), seed=1).shape == (32, 48, 3)
    assert augment(rgb, (32, 48), seed=1, crop=False).shape == (32, 48, 3)
    assert np.array_equal(augment(rgb, (32, 48), 4), augment(rgb, (32, 48), 4))
    assert equalize_luminance(rgb).std() > 3 * rgb.std()


def test_training_reduces_cycle_loss(domains):
    losses = CycleGANTrainer(tiny_config(domains, 'run', lr=1e-3, epochs=3)).fit()
    cycle = [x['cycle_day'] + x['cycle_night'] for x in losses]
    assert len(cycle) == 16
    assert np.mean(cycle[-3:]) < 0.5 * np.mean(cycle[:3])


def test_interrupted_training_resumes_exactly(domains):
    full = CycleGANTrainer(tiny_config(domains, 'full'))
    full_losses = full.fit()
    first = CycleGANTrainer(tiny_config(domains, 'cut', max_steps=3)).fit()
    assert len(first) == 3 and (domains / 'cut' / CHECKPOINT).exists()
    resumed = CycleGANTrainer(tiny_config(domains, 'cut'))
    rest = resumed.fit()
    assert resumed.step == full.step == 8 and len(rest) == 5
    assert first + rest == full_losses
    for key, value in full.nets.state_dict().items():
        assert torch.equal(value, resumed.nets.state_dict()[key]), key
    assert not [p for p in (domains / 'cut').rglob('.*') if p.is_file()]
    with pytest.raises(ValueError, match='ngf'):
        CycleGANTrainer(tiny_config(domains, 'cut', ngf=4)).resume()


def test_translate_keeps_names_sizes_count_and_skips_existing(domains):
    generator = train_cyclegan(tiny_config(domains, 'run', epochs=0))
    make_images(domains / 'mixed', 3, 150, seed=4, size=(36, 52))
    layout.write_rgb(domains / 'mixed' / 'odd.png', np.zeros((20, 28, 3), np.uint8))
    report = translate_folder(generator, domains / 'mixed', domains / 'fake', batch_size=2,
                              device='cpu')
    assert (report.translated, report.skipped) == (4, 0)
    for src in image_files(domains / 'mixed'):
        dst = domains / 'fake' / src.name
        assert layout.read_rgb(dst).shape == layout.read_rgb(src).shape
    before = {p.name: p.stat().st_mtime_ns for p in (domains / 'fake').iterdir()}
    again = translate_folder(generator, domains / 'mixed', domains / 'fake', device='cpu')
    assert (again.translated, again.skipped) == (0, 4)
    assert before == {p.name: p.stat().st_mtime_ns for p in (domains / 'fake').iterdir()}


def test_translate_split_writes_fake_night_twins(domains):
    layout.write_split(layout.split_path(domains, 'cg_day'), [('day', i) for i in range(4)])
    layout.write_split(domains / 'night.txt', [('night', i) for i in range(3)])
    cfg = tiny_config(domains, 'run', day=None, night=None, root=str(domains), day_split='cg_day',
                      night_split=str(domains / 'night.txt'), epochs=0, max_steps=1)
    trainer = CycleGANTrainer(cfg)
    assert (len(trainer.dataset.day), len(trainer.dataset.night)) == (4, 3)
    trainer.fit()
    layout.write_split(layout.split_path(domains, 'train'), [('day', 1), ('day', 3), ('day', 1)])
    report = translate_split(domains / 'run' / CHECKPOINT, domains, 'train', device='cpu')
    assert report.translated == 2
    assert sorted(p.name for p in (domains / 'day_fake_night').iterdir()) == [
        layout.frame_name(1), layout.frame_name(3)]


def test_histogram_distance_and_statistics():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 200, (16, 16, 3)).astype(np.uint8) for _ in range(3)]
    shifted = [img + np.uint8(40) for img in images]
    assert histogram_distance(images, images)['mean'] == 0
    assert histogram_distance(images, shifted)['mean'] == pytest.approx(40, abs=2)
    assert mean_abs_error(images, shifted) == 40
    with pytest.raises(ValueError, match='shape'):
        mean_abs_error(images[:1], [images[0][:8]])
    stats = image_statistics([np.full((4, 4, 3), (10, 20, 30), np.uint8)])
    assert stats['G'] == {'mean': 20.0, 'std': 0.0}
    assert stats['Y']['mean'] == pytest.approx(0.299 * 10 + 0.587 * 20 + 0.114 * 30)
    strip = sample_strip(images, shifted, [np.zeros((8, 8, 3), np.uint8)], rows=3)
    assert strip.shape == (16, 48, 3) and not strip[:, 32:].any()


def test_cli_train_translate_measure(domains, capsys):
    out = domains / 'cli'
    assert main(['cyclegan', 'train', '--day', str(domains / 'day'), '--night',
                 str(domains / 'night'), '--out', str(out), '--height', '32', '--width', '32',
                 '--ngf', '4', '--ndf', '4', '--n-blocks', '1', '--epochs', '1',
                 '--epochs-decay', '0', '--num-workers', '0', '--no-crop']) == 0
    assert main(['cyclegan', 'translate', '--checkpoint', str(out / 'day2night.pt'),
                 '--in', str(domains / 'day'), '--out', str(domains / 'fake')]) == 0
    assert len(image_files(domains / 'fake')) == 4
    assert main(['cyclegan', 'measure', '--day', str(domains / 'day'), '--fake',
                 str(domains / 'fake'), '--night', str(domains / 'night'), '--samples',
                 str(domains / 's.png'), '--json', str(domains / 'm.json')]) == 0
    assert layout.read_rgb(domains / 's.png').shape == (3 * 40, 3 * 40, 3)  # 3 night images
    assert 'fake night' in capsys.readouterr().out
    assert main(['cyclegan', 'measure', '--day', str(domains / 'day'), '--fake',
                 str(domains / 'fake'), '--night', str(domains / 'day'), '--paired',
                 '--json', str(domains / 'm.json')]) == 0
    result = json.loads((domains / 'm.json').read_text())
    assert result['paired_mae']['day'] == 0 and result['paired_mae']['fake_night'] > 0
    assert result['distance_to_night']['day']['mean'] == 0
    assert main(['cyclegan', 'train', '--day', str(domains / 'day'), '--out', str(out)]) == 2
    assert 'night folder or a night split' in capsys.readouterr().err
    assert main(['cyclegan', 'translate', '--checkpoint', str(out / 'day2night.pt'),
                 '--in', str(domains / 'day')]) == 2
    assert capsys.readouterr().err == ('adds cyclegan: translate needs either --in and --out, '
                                       'or --root and --split\n')


class WritesMarker:
    """Unpickling this runs `Path.touch(marker)`: the attack a weights-only load must refuse."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_translate_and_resume_refuse_a_pickle_that_runs_code(domains, capsys):
    marker = domains / 'pwned'
    evil = domains / 'evil.pt'
    torch.save({'format': 'adds_ros/cyclegan-generator/1', 'payload': WritesMarker(marker)}, evil)
    assert main(['cyclegan', 'translate', '--checkpoint', str(evil), '--in',
                 str(domains / 'day'), '--out', str(domains / 'fake')]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'adds cyclegan: {evil}: not a CycleGAN checkpoint: it holds Python '
                          'objects other than tensors') and err.count('\n') == 1
    assert 'Traceback' not in err and not marker.exists()
    run = domains / 'run' / CHECKPOINT
    run.parent.mkdir(parents=True)
    torch.save({'format': 'adds_ros/cyclegan/1', 'payload': WritesMarker(marker)}, run)
    with pytest.raises(UserError, match='not a CycleGAN checkpoint'):
        CycleGANTrainer(tiny_config(domains, 'run')).resume()
    assert not marker.exists()
    # The loader itself would run it: the test's pickle is a real attack.
    torch.load(evil, weights_only=False)
    assert marker.exists()

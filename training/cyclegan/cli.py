# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds cyclegan train|translate|measure`: the day-to-night CycleGAN from the command line.

`train --day DIR --night DIR --out RUN` (or `--root R --day-split S --night-split S`) trains or
resumes; `translate --checkpoint RUN/day2night.pt --in DIR --out DIR` (or `--root R --split S`
for the `<folder>_fake_night` twins of a split) translates; `measure --day --fake --night`
reports how close the fake night is to real night.
"""

import argparse
import json
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import List, Optional, Tuple

from adds_ros import cli_config
from adds_ros.errors import UserError
from adds_ros.settings import check, param
from adds_training.tools import batch

HELP = {
    'out': 'run folder (checkpoints, TensorBoard, day2night.pt); an existing run resumes',
    'day': 'folder of day images', 'night': 'folder of night images',
    'root': 'processed-data root the splits refer to',
    'day_split': 'split name (or file) of day frames', 'night_split': 'split of night frames',
    'height': 'training resolution (crop) height', 'width': 'training resolution width',
    'n_blocks': 'residual blocks of the generator (9 published, 6 for small images)',
    'epochs': 'epochs at constant learning rate', 'epochs_decay': 'epochs of linear decay to 0',
    'lambda_identity': 'identity weight as a fraction of the cycle weight',
    'pool_size': 'history buffer of generated images', 'crop': 'random crops',
    'equalize_night': 'histogram-equalise the luminance of night images',
    'device': "'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'", 'amp': 'AMP on CUDA',
    'save_every': 'checkpoint every N steps (and at every epoch end)',
    'max_steps': 'stop (with a checkpoint) after this global step; rerun to continue',
}


@dataclass
class TranslateConfig:
    """`adds cyclegan translate`'s settings: --in and --out folders, or --root and --split."""

    checkpoint: Path = param(MISSING, 'day2night.pt or checkpoints/latest.pt of a run')
    in_dir: Tuple[str, ...] = param((), 'folder of day images; several, a glob or a folder of '
                                    'image folders run as a batch, each into --out/<its name>')
    out_dir: Optional[Path] = param(None, 'output folder')
    root: Optional[Path] = param(None, 'processed-data root (with --split)')
    split: Optional[str] = param(None, 'translate this split into <folder>_fake_night')
    batch_size: int = param(8, 'images per forward pass of the generator', (1, 1 << 12))
    device: str = param('auto', HELP['device'])
    overwrite: bool = param(False, 'redo existing outputs')

    def __post_init__(self) -> None:
        check(self, 'option')


@dataclass
class MeasureConfig:
    """`adds cyclegan measure`'s settings."""

    day: Path = param(MISSING, 'day inputs')
    fake: Path = param(MISSING, 'their fake-night twins')
    night: Path = param(MISSING, 'real night images')
    paired: bool = param(False, '--night holds the real night twin of each day image (same '
                                'name)')
    json: Optional[Path] = param(None, 'write the numbers here too')
    samples: Optional[Path] = param(None, 'PNG of rows day | fake night | night')
    rows: int = param(4, 'rows of the sample PNG', (1, 1 << 10))

    def __post_init__(self) -> None:
        check(self, 'option')


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per `CycleGANConfig` field; booleans that default to True get `--no-X`."""
    from adds_training.cyclegan.train import CycleGANConfig
    cli_config.add_options(parser, CycleGANConfig, HELP)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest='action', metavar='ACTION', required=True)
    add_config_arguments(sub.add_parser('train', help='train (or resume) a CycleGAN'))
    translate = sub.add_parser('translate', help='translate a folder or a split\'s day frames')
    cli_config.add_options(translate, TranslateConfig, extra={
        'in_dir': {'flags': ['--in'], 'metavar': 'DIR'},
        'out_dir': {'flags': ['--out'], 'metavar': 'DIR'}})
    batch.add_arguments(translate)
    cli_config.add_options(sub.add_parser('measure', help='how close fake night is to real '
                                          'night'), MeasureConfig)


def run_train(args: argparse.Namespace) -> int:
    from adds_training.cyclegan.train import CycleGANConfig, train_cyclegan
    cfg = cli_config.build(CycleGANConfig, args)
    print(f'generator: {train_cyclegan(cfg)}')
    return 0


class TranslateJob(batch.Job):
    """`adds cyclegan translate` over many folders; a worker holds one generator."""

    command = 'translate'
    unit = 'image'

    def __init__(self, checkpoint: Path, options: dict) -> None:
        self.checkpoint, self.options = Path(checkpoint), options
        self._generator = None

    def generator(self):
        """Return the held generator, loaded for the worker's first folder that needs one."""
        if self._generator is None:
            from adds_training.cyclegan.translate import load_generator
            self._generator = load_generator(self.checkpoint, self.options['device'])
        return self._generator

    def run(self, task: batch.Task) -> dict:
        from adds_training.cyclegan.translate import translate_folder
        report = translate_folder(self.checkpoint, Path(task.input), Path(task.output),
                                  loaded=self.generator, **self.options)
        return dict(frames=report.translated, translated=report.translated,
                    skipped=report.skipped)

    def complete(self, task: batch.Task, record: Optional[dict]) -> bool:
        return not self.options['overwrite'] and super().complete(task, record)

    def leftovers(self, task: batch.Task) -> List[Path]:
        return batch.hidden_temporaries(Path(task.output))


def is_image_folder(path: Path) -> bool:
    from adds_ros.preprocess import IMAGE_SUFFIXES
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES and
                                 not p.name.startswith('.') for p in path.iterdir())


def run_translate(args: argparse.Namespace) -> int:
    from adds_training.cyclegan.translate import translate_folder, translate_split
    cfg = cli_config.build_checked(TranslateConfig, args)
    options = dict(batch_size=cfg.batch_size, device=cfg.device, overwrite=cfg.overwrite)
    if cfg.split and cfg.root and not (cfg.in_dir or cfg.out_dir):
        report = translate_split(cfg.checkpoint, cfg.root, cfg.split, **options)
    elif cfg.in_dir and cfg.out_dir and not (cfg.split or cfg.root):
        if batch.is_batch(cfg.in_dir, is_image_folder):
            folders = batch.expand_inputs(cfg.in_dir, is_image_folder, 'image folder')
            job = TranslateJob(cfg.checkpoint, options)
            return batch.run_command(job, batch.tasks_into(folders, cfg.out_dir),
                                     batch.config_from_args(
                                         args, cfg.out_dir / f'manifest-{job.command}.json'))
        report = translate_folder(cfg.checkpoint, Path(cfg.in_dir[0]), cfg.out_dir, **options)
    else:
        raise UserError('translate needs either --in and --out, or --root and --split')
    print(f'translated {report.translated}, skipped {report.skipped} (already there)')
    return 0


def run_measure(args: argparse.Namespace) -> int:
    from adds_ros.atomic import write_text_atomic
    from adds_ros.preprocess import image_files
    from adds_training.cyclegan.metrics import compare_to_night, read_images, sample_strip
    from adds_training.data import layout
    cfg = cli_config.build_checked(MeasureConfig, args)
    day_paths = image_files(cfg.day)
    fake_paths = [cfg.fake / p.name for p in day_paths]
    missing = [str(p) for p in fake_paths if not p.exists()]
    if missing:
        raise UserError(f'{len(missing)} fake-night images missing, e.g. {missing[0]}')
    day, fake = read_images(day_paths), read_images(fake_paths)
    night_paths = [cfg.night / p.name for p in day_paths] if cfg.paired else image_files(
        cfg.night)
    night = read_images(night_paths)
    result = compare_to_night(day, fake, night, paired=cfg.paired)
    text = json.dumps(result, indent=1) + '\n'
    if cfg.json:
        write_text_atomic(cfg.json, text)
    if cfg.samples:
        layout.write_rgb(cfg.samples, sample_strip(day, fake, night, cfg.rows))
    dist = result['distance_to_night']
    print(text if not cfg.json else '', end='')
    print(f"histogram distance to night (grey levels, mean of R,G,B,Y): "
          f"day {dist['day']['mean']:.2f} -> fake night {dist['fake_night']['mean']:.2f}")
    if cfg.paired:
        mae = result['paired_mae']
        print(f"per-pixel error to the paired night images (grey levels): "
              f"day {mae['day']:.2f} -> fake night {mae['fake_night']:.2f}")
    return 0


def run(args: argparse.Namespace) -> int:
    action = {'train': run_train, 'translate': run_translate, 'measure': run_measure}
    return action[args.action](args)

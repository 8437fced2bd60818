# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Batch day-to-night translation: a folder, or every day frame of a split, in one call.

Each image is translated at the generator's training resolution and resized back, so the
output keeps the input's file name and size. Existing outputs are skipped (an interrupted run
just continues), and every output is written atomically.
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from tqdm import tqdm

from adds_ros.errors import UserValueError
from adds_ros.preprocess import image_files
from adds_training.checkpoint import load_torch_file
from adds_training.cyclegan.data import split_entries, to_tensor, to_uint8
from adds_training.cyclegan.networks import ResnetGenerator
from adds_training.cyclegan.train import CHECKPOINT_FORMAT, GENERATOR_FORMAT, KIND
from adds_training.data import layout
from adds_training.device import pick_device


@dataclass
class TranslationReport:
    translated: int
    skipped: int


def load_generator(checkpoint: Path, device: str = 'auto') -> Tuple[ResnetGenerator, dict]:
    """Day->night generator and its training config from a generator file or a checkpoint."""
    state = load_torch_file(checkpoint, KIND)
    fmt = state.get('format') if isinstance(state, dict) else None
    if fmt == GENERATOR_FORMAT:
        weights = state['generator']
    elif fmt == CHECKPOINT_FORMAT:
        prefix = 'G_day2night.'
        weights = {k[len(prefix):]: v for k, v in state['nets'].items() if k.startswith(prefix)}
    else:
        raise UserValueError(f'{checkpoint}: not {KIND} (format {fmt!r}, expected '
                             f'{GENERATOR_FORMAT!r} or {CHECKPOINT_FORMAT!r})')
    cfg = state['config']
    generator = ResnetGenerator(cfg['ngf'], cfg['n_blocks'])
    try:
        generator.load_state_dict(weights)
    except RuntimeError as err:
        raise UserValueError(f'{checkpoint}: the generator weights do not fit its config: '
                             f'{str(err).splitlines()[-1].strip()[:200]}') from None
    return generator.to(pick_device(device)).eval(), cfg


@torch.no_grad()
def translate_images(generator: ResnetGenerator, images: Sequence[np.ndarray],
                     size: Tuple[int, int]) -> List[np.ndarray]:
    """Translate RGB uint8 images at `size` (H, W) and resize each back to its own size."""
    height, width = size
    device = next(generator.parameters()).device
    batch = torch.stack([to_tensor(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
                         for rgb in images]).to(device)
    out = to_uint8(generator(batch))
    return [cv2.resize(fake, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_CUBIC)
            if fake.shape[:2] != rgb.shape[:2] else fake for fake, rgb in zip(out, images)]


def translate_pairs(checkpoint: Path, pairs: Sequence[Tuple[Path, Path]], batch_size: int = 8,
                    device: str = 'auto', overwrite: bool = False,
                    loaded: Optional[Callable[[], Tuple[ResnetGenerator, dict]]] = None
                    ) -> TranslationReport:
    """Translate each (input, output) pair whose output does not exist yet (or all).

    `loaded` returns a generator already held (a batch worker serves many folders with one);
    by default the checkpoint is loaded when there is something to translate.
    """
    if batch_size < 1:
        raise UserValueError('batch_size must be >= 1')
    unique = dict(pairs)  # a split may list a frame twice
    todo = [(src, dst) for src, dst in unique.items() if overwrite or not Path(dst).exists()]
    report = TranslationReport(translated=0, skipped=len(unique) - len(todo))
    if not todo:
        return report
    generator, cfg = loaded() if loaded else load_generator(checkpoint, device)
    with tqdm(total=len(todo), desc='day->night', unit='img', dynamic_ncols=True,
              disable=not sys.stderr.isatty()) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            fakes = translate_images(generator, [layout.read_rgb(src) for src, _ in chunk],
                                     (cfg['height'], cfg['width']))
            for (_, dst), fake in zip(chunk, fakes):
                layout.write_rgb(dst, fake)
            report.translated += len(chunk)
            bar.update(len(chunk))
    return report


def translate_folder(checkpoint: Path, in_dir: Path, out_dir: Path,
                     **kwargs) -> TranslationReport:
    """Translate every image of `in_dir` into `out_dir` under the same file name."""
    pairs = [(src, Path(out_dir) / src.name) for src in image_files(in_dir)]
    return translate_pairs(checkpoint, pairs, **kwargs)


def translate_split(checkpoint: Path, root: Path, split: str, **kwargs) -> TranslationReport:
    """Translate the day frames of a split into their `<folder>_fake_night` twins."""
    pairs = [(layout.frame_path(root, folder, index), layout.fake_night_path(root, folder, index))
             for folder, index in split_entries(root, split)]
    if not pairs:
        raise UserValueError(f'split {split} of {root} lists no frames')
    return translate_pairs(checkpoint, pairs, **kwargs)

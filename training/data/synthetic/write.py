# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Render whole synthetic datasets into the processed layout (adds_training.data.layout).

Folders (each sequence is one street; sequence k of a folder holds indices k*SEQUENCE_STRIDE+i,
so triplets never cross from one street to the next):

    day_train, day_val, day_test      day frames, with <folder>_fake_night (the exact night
                                      render of the same pose: the oracle pairing) and <folder>_gt
    night_train, night_val, night_test  night frames of other streets, with <folder>_gt
    <folder>/poses.txt                index and the 3x4 camera-to-world matrix per frame

Splits: train (day_train triplet centres), val_day, val_night, test_day, test_night,
cyclegan_day (all day_train frames), cyclegan_night (all night_train frames).
"""

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from adds_ros.atomic import write_text_atomic
from adds_training import pictures
from adds_training.data import layout
from adds_training.data.synthetic.render import (cast, gt_depth, NIGHT_DIFFICULTIES,
                                                 render_views, shade)
from adds_training.data.synthetic.world import camera_trajectory, make_world, World

SEQUENCE_STRIDE = 10000
CHUNK = 16
POSES = 'poses.txt'

# folder -> (illumination, SynthConfig field with its number of sequences)
FOLDERS = {
    'day_train': ('day', 'train_sequences'),
    'day_val': ('day', 'val_sequences'),
    'day_test': ('day', 'test_sequences'),
    'night_train': ('night', 'night_sequences'),
    'night_val': ('night', 'val_sequences'),
    'night_test': ('night', 'test_sequences'),
}
# split -> (folder, only triplet centres)
SPLITS = {
    'train': ('day_train', True),
    'val_day': ('day_val', False),
    'val_night': ('night_val', False),
    'test_day': ('day_test', False),
    'test_night': ('night_test', False),
    'cyclegan_day': ('day_train', False),
    'cyclegan_night': ('night_train', False),
}


@dataclass
class SynthConfig:
    """What to render. Sequences are per folder; val/test counts apply to day and night."""

    seed: int = 0
    height: int = 256
    width: int = 512
    frames: int = 100
    train_sequences: int = 4
    val_sequences: int = 1
    test_sequences: int = 1
    night_sequences: int = 2
    max_depth: float = 80.0
    workers: int = 1
    # 'standard' (every earlier result) or 'hard' (render.hard_night_sensor); day frames are
    # byte-identical either way.
    night_difficulty: str = 'standard'

    def __post_init__(self):
        if self.height < 8 or self.width < 8:
            raise ValueError(f'image size {self.height}x{self.width} is too small (min 8x8)')
        if not 3 <= self.frames < SEQUENCE_STRIDE:
            raise ValueError(f'frames per sequence must be in [3, {SEQUENCE_STRIDE}), '
                             f'got {self.frames}')
        for _, name in FOLDERS.values():
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must not be negative')
        if self.night_difficulty not in NIGHT_DIFFICULTIES:
            raise ValueError(f'night_difficulty must be one of {NIGHT_DIFFICULTIES}, got '
                             f'{self.night_difficulty!r}')
        if self.max_depth <= 0 or self.max_depth * layout.GT_SCALE >= 65536:
            raise ValueError(f'max_depth must be in (0, 256) m, got {self.max_depth}')


@dataclass
class DatasetSummary:
    """What `render_dataset` produced: frames per folder, entries per split, work done."""

    root: Path
    folders: Dict[str, int] = field(default_factory=dict)
    splits: Dict[str, int] = field(default_factory=dict)
    rendered: int = 0
    skipped: int = 0
    seconds: float = 0.0


def sequence_seed(cfg: SynthConfig, folder: str, sequence: int) -> int:
    """Return the street seed of one sequence: different for every folder and sequence."""
    code = list(FOLDERS).index(folder)
    return int(np.random.SeedSequence([cfg.seed, code, sequence]).generate_state(1)[0])


def sequence_world(cfg: SynthConfig, folder: str, sequence: int) -> Tuple[World, np.ndarray]:
    """Rebuild the street and camera poses (frames, 4, 4) of one sequence, deterministically."""
    seed = sequence_seed(cfg, folder, sequence)
    world = make_world(seed, length=1.4 * cfg.frames + 30)  # the car drives <= 1.35 m/frame
    return world, camera_trajectory(world, cfg.frames, seed)


def intrinsics(cfg: SynthConfig) -> np.ndarray:
    """Pixel K of the renders: RobotCar's normalised intrinsics at the configured size."""
    return layout.robotcar_info().K_for(cfg.height, cfg.width).astype(np.float64)


def frame_indices(cfg: SynthConfig, folder: str) -> List[int]:
    count = getattr(cfg, FOLDERS[folder][1])
    return [k * SEQUENCE_STRIDE + i for k in range(count) for i in range(cfg.frames)]


def _outputs(root: Path, folder: str, index: int) -> List[Path]:
    paths = [layout.frame_path(root, folder, index), layout.gt_path(root, folder, index)]
    if FOLDERS[folder][0] == 'day':
        paths.append(layout.fake_night_path(root, folder, index))
    return paths


def _frame_rng(cfg: SynthConfig, folder: str, index: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, list(FOLDERS).index(folder), index])


def render_chunk(root: Path, cfg: SynthConfig, folder: str, sequence: int, start: int,
                 stop: int) -> Tuple[int, int]:
    """Render frames [start, stop) of one sequence, skipping finished ones; (rendered, skipped)."""
    cv2.setNumThreads(1)
    world, poses = sequence_world(cfg, folder, sequence)
    K = intrinsics(cfg)
    illumination = FOLDERS[folder][0]
    rendered = 0
    for i in range(start, stop):
        index = sequence * SEQUENCE_STRIDE + i
        if all(p.exists() for p in _outputs(root, folder, index)):
            continue
        rng = _frame_rng(cfg, folder, index)
        if illumination == 'day':
            day, night, depth = render_views(world, poses[i], K, cfg.height, cfg.width, rng,
                                             cfg.max_depth, cfg.night_difficulty)
            layout.write_rgb(layout.fake_night_path(root, folder, index), night)
            image = day
        else:
            hits = cast(world, poses[i], K, cfg.height, cfg.width)
            image = shade(world, hits, 'night', rng, night=cfg.night_difficulty)
            depth = gt_depth(hits, cfg.max_depth)
        layout.write_gt_png(layout.gt_path(root, folder, index), depth)
        layout.write_rgb(layout.frame_path(root, folder, index), image)
        rendered += 1
    return rendered, stop - start - rendered


def _run_chunk(job: tuple) -> Tuple[int, int, int]:
    rendered, skipped = render_chunk(*job)
    return job[-1] - job[-2], rendered, skipped


def write_poses(root: Path, cfg: SynthConfig, folder: str) -> None:
    """Store `index` + the row-major 3x4 camera-to-world matrix of every frame of a folder."""
    lines = []
    for k in range(getattr(cfg, FOLDERS[folder][1])):
        _, poses = sequence_world(cfg, folder, k)
        for i, pose in enumerate(poses):
            values = ' '.join(f'{x:.9f}' for x in pose[:3].ravel())
            lines.append(f'{k * SEQUENCE_STRIDE + i:010d} {values}\n')
    write_text_atomic(Path(root) / folder / POSES, ''.join(lines))


def read_poses(root: Path, folder: str) -> Dict[int, np.ndarray]:
    """Read `<folder>/poses.txt` back: index -> 4x4 camera-to-world matrix."""
    poses = {}
    path = Path(root) / folder / POSES
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if len(fields) != 13:
            raise ValueError(f'{path}:{number}: expected an index and 12 numbers')
        pose = np.eye(4)
        pose[:3] = np.array(fields[1:], np.float64).reshape(3, 4)
        poses[int(fields[0])] = pose
    return poses


def split_entries(cfg: SynthConfig, split: str) -> List[Tuple[str, int]]:
    folder, centres = SPLITS[split]
    indices = frame_indices(cfg, folder)
    if centres:
        present = set(indices)
        indices = [i for i in indices if layout.triplet_ok(present, i)]
    return [(folder, i) for i in indices]


def dataset_info(cfg: SynthConfig) -> layout.DatasetInfo:
    size = (cfg.height, cfg.width)
    # Workers do not change the data; the default night is left out so that datasets rendered
    # before the option existed resume.
    content = {k: v for k, v in asdict(cfg).items() if k != 'workers'
               and not (k == 'night_difficulty' and v == 'standard')}
    sequences = {folder: [sequence_seed(cfg, folder, k)
                          for k in range(getattr(cfg, FOLDERS[folder][1]))]
                 for folder in FOLDERS}
    return layout.DatasetInfo(
        K=layout.robotcar_info().K, image_size=size, gt_size=size,
        gt_crop=(0, cfg.height, 0, cfg.width), name='adds_synthetic_street',
        extra={'generator': 'adds synth', 'config': content, 'max_depth': cfg.max_depth,
               'sequence_stride': SEQUENCE_STRIDE, 'world_seeds': sequences})


def _check_same_config(root: Path, info: layout.DatasetInfo) -> None:
    if not (root / layout.DATASET_INFO).exists():
        return
    old = layout.DatasetInfo.load(root).extra.get('config')
    if old != info.extra['config']:
        raise ValueError(f'{root} holds a dataset rendered with another config ({old}); '
                         'render into a new folder or use the same settings to resume')


def _jobs(root: Path, cfg: SynthConfig) -> Iterable[tuple]:
    for folder in FOLDERS:
        for k in range(getattr(cfg, FOLDERS[folder][1])):
            for start in range(0, cfg.frames, CHUNK):
                yield root, cfg, folder, k, start, min(start + CHUNK, cfg.frames)


def render_dataset(out: Path, cfg: SynthConfig, progress: bool = True) -> DatasetSummary:
    """Render (or finish rendering) the dataset of `cfg` into `out`; deterministic per seed.

    Frames whose files all exist are skipped, so an interrupted run resumes; resuming with
    another config is refused (dataset.json, written first, records it). Splits come last.
    """
    root = Path(out)
    start = time.perf_counter()
    info = dataset_info(cfg)
    _check_same_config(root, info)
    info.save(root)
    summary = DatasetSummary(root=root)
    for folder in FOLDERS:
        if getattr(cfg, FOLDERS[folder][1]):
            write_poses(root, cfg, folder)
            summary.folders[folder] = len(frame_indices(cfg, folder))
    jobs = list(_jobs(root, cfg))
    bar = tqdm(total=sum(job[-1] - job[-2] for job in jobs), unit='frame', desc='adds synth',
               disable=not progress)
    if cfg.workers > 1:
        pool = ProcessPoolExecutor(cfg.workers, mp_context=get_context('spawn'))
        results = pool.map(_run_chunk, jobs)
    else:
        pool, results = None, map(_run_chunk, jobs)
    try:
        for frames, rendered, skipped in results:
            summary.rendered += rendered
            summary.skipped += skipped
            bar.update(frames)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    for split in SPLITS:
        entries = split_entries(cfg, split)
        layout.write_split(layout.split_path(root, split), entries)
        summary.splits[split] = len(entries)
    summary.seconds = time.perf_counter() - start
    return summary


def contact_sheet(root: Path, entries: Sequence[Tuple[str, int]]) -> np.ndarray:
    """One row per day frame: day | its night render | its depth, as one RGB image."""
    return pictures.grid([[layout.read_rgb(layout.frame_path(root, folder, index)),
                           layout.read_rgb(layout.fake_night_path(root, folder, index)),
                           pictures.log_depth_rgb(layout.read_gt_png(
                               layout.gt_path(root, folder, index)))]
                          for folder, index in entries])

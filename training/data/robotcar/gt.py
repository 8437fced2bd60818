# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds gt`: evaluation depth from the front 2D lidar, as in the md4all / WSGD protocol.

For a frame at time t, every lms_front scan within t ± window is moved into the vehicle frame
at t (lms_front extrinsics, then VO poses relative to t), into the camera frame (stereo
extrinsics), projected with the camera model and reduced to the nearest depth per pixel. The
result is a 16-bit PNG at camera resolution (metres * 256) in `<folder>_gt/`. A truncated or
missing scan is skipped and counted.
"""

import argparse
import math
from collections import Counter
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from adds_ros.errors import UserError
from adds_ros.settings import check, param, same_as
from adds_training.data import layout
from adds_training.data.robotcar import raw
from adds_training.data.robotcar.gt_formats import points_to_depth
from adds_training.data.robotcar.prepare import (PrepareConfig, SequenceJob,
                                                 add_sequence_arguments, report_line, run_jobs,
                                                 run_sequences)
from adds_training.tools import batch


@dataclass
class GTConfig:
    """`adds gt`'s settings; those it shares with `adds prepare` are PrepareConfig's."""

    raw: Path  # one sequence (the command line's --raw takes many)
    models: Path = same_as(PrepareConfig, 'models')
    extrinsics: Path = param(MISSING, 'SDK extrinsics/ folder (lms_front.txt, stereo.txt)')
    out: Path = same_as(PrepareConfig, 'out')
    folder: str = param(MISSING, 'prepared folder to label (a batch: each sequence\'s name, as '
                        '`adds prepare` names them)')
    split: Optional[str] = param(None, 'only frames of this split (name in <out>/splits or a '
                                 'file); default: every prepared frame')
    window_s: float = param(4.0, 'accumulate lidar scans within ± this many seconds',
                            (0.0, math.inf))
    camera: str = raw.CAMERA
    camera_size: Tuple[int, int] = layout.ROBOTCAR_FULL_SIZE
    workers: int = same_as(PrepareConfig, 'workers')

    def __post_init__(self) -> None:
        check(self, 'option')


@dataclass
class LidarScene:
    """Everything needed to build GT for any frame of one sequence."""

    model: raw.CameraModel
    trajectory: raw.Trajectory
    scan_stamps: np.ndarray
    scan_dir: Path
    G_vehicle_laser: np.ndarray
    G_camera_vehicle: np.ndarray

    @classmethod
    def load(cls, cfg: GTConfig) -> 'LidarScene':
        scan_dir = Path(cfg.raw) / raw.LIDAR
        stamps_file = Path(cfg.raw) / f'{raw.LIDAR}.timestamps'
        if stamps_file.exists():
            stamps = raw.read_timestamps(stamps_file)
        else:
            stamps = np.array(sorted(int(p.stem) for p in scan_dir.glob('*.bin')), np.int64)
        stereo = 'stereo' if cfg.camera.startswith('stereo') else cfg.camera
        return cls(raw.read_camera_model(cfg.models, cfg.camera, cfg.camera_size),
                   raw.read_vo(Path(cfg.raw) / raw.VO_FILE), np.sort(stamps), scan_dir,
                   raw.read_extrinsics(Path(cfg.extrinsics) / f'{raw.LIDAR}.txt'),
                   raw.read_extrinsics(Path(cfg.extrinsics) / f'{stereo}.txt'))

    def pointcloud(self, stamp: int, window_us: int) -> Tuple[np.ndarray, int]:
        """Camera-frame 3xN points of the scans within stamp ± window; also the bad-scan count."""
        lo, hi = np.searchsorted(self.scan_stamps, [stamp - window_us, stamp + window_us + 1])
        chosen = self.scan_stamps[lo:hi]
        poses = self.trajectory.relative(chosen, stamp)
        clouds, bad = [], 0
        for scan_stamp, pose in zip(chosen, poses):
            try:
                scan = raw.read_lidar_scan(self.scan_dir / f'{scan_stamp}.bin')
            except ValueError:
                bad += 1
                continue
            G = self.G_camera_vehicle @ pose @ self.G_vehicle_laser
            clouds.append(G[:3, :3] @ scan + G[:3, 3:])
        points = np.concatenate(clouds, axis=1) if clouds else np.zeros((3, 0))
        return points, bad

    def depth(self, stamp: int, window_us: int) -> Tuple[np.ndarray, int]:
        """Nearest-depth map (metres, 0 = none) at camera resolution, and the bad-scan count."""
        points, bad = self.pointcloud(stamp, window_us)
        return points_to_depth(points, self.model, self.model.size), bad


_WORKER: Dict = {}


def _init_worker(cfg: GTConfig) -> None:
    _WORKER['cfg'] = cfg
    _WORKER['scene'] = LidarScene.load(cfg)


def _run_job(job: Tuple[int, int]) -> Tuple[int, str, int]:
    """Write one GT PNG; return (index, status, truncated scans)."""
    index, stamp = job
    cfg = _WORKER['cfg']
    dst = layout.gt_path(cfg.out, cfg.folder, index)
    if dst.exists():
        return index, 'resumed', 0
    depth, bad = _WORKER['scene'].depth(stamp, int(round(cfg.window_s * 1e6)))
    if not np.any(depth > 0):
        return index, 'no_points', bad
    layout.write_gt_png(dst, depth)
    return index, 'done', bad


def frames(cfg: GTConfig) -> List[Tuple[int, int]]:
    """(index, µs) of the frames to label: the split's entries of `folder`, or all prepared."""
    stamps = layout.read_index_timestamps(cfg.out, cfg.folder)
    if cfg.split is None:
        return sorted(stamps.items())
    path = Path(cfg.split)
    if not path.is_file():
        path = layout.split_path(cfg.out, cfg.split)
    wanted = sorted({i for folder, i in layout.read_split(path) if folder == cfg.folder})
    unknown = [i for i in wanted if i not in stamps]
    if unknown:
        raise ValueError(f'{len(unknown)} frames of {path} (e.g. {unknown[0]}) are not in '
                         f'{cfg.folder}.timestamps')
    return [(i, stamps[i]) for i in wanted]


def make_gt(cfg: GTConfig) -> Counter:
    """Write GT for the selected frames; return counts incl. `truncated_scans`."""
    cfg.raw, cfg.models, cfg.extrinsics, cfg.out = (Path(cfg.raw), Path(cfg.models),
                                                    Path(cfg.extrinsics), Path(cfg.out))
    LidarScene.load(cfg)  # fail early, in this process, on missing models / extrinsics / VO
    results = run_jobs(cfg, frames(cfg), f'gt {cfg.folder}', _init_worker, _run_job)
    counts = Counter(status for _, status, _ in results)
    counts['truncated_scans'] = sum(bad for _, _, bad in results)
    return counts


class GTJob(SequenceJob):
    """`adds gt` over many sequences, each labelling the folder `adds prepare` named after it."""

    command = 'gt'
    suffix = layout.GT_SUFFIX

    def run(self, task: batch.Task) -> Dict[str, int]:
        counts = make_gt(self.task_config(task))
        if not counts['done'] + counts['resumed']:
            raise UserError(f'no ground truth written ({report_line(counts, task.input)})')
        return dict(counts, frames=counts['done'])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sequence_arguments(parser, GTConfig, extra={
        'window_s': {'flags': ['--window'], 'metavar': 'SECONDS'}})


def run(args: argparse.Namespace) -> int:
    return run_sequences(args, GTConfig, GTJob, make_gt, ('folder', 'split'))

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds prepare`: a raw RobotCar sequence -> the processed layout (frames, splits, intrinsics).

Per frame: demosaic (GBRG) -> undistort (SDK LUT) -> crop rows -> resize -> RGB PNG named by
the frame's position in `stereo.timestamps`, so a dropped frame leaves a gap in the indices and
a training triplet (index-1, index, index+1) can never span it. Static frames (VO translation
since the previous frame below a threshold) are dropped, since they teach the photometric loss
nothing. Missing or corrupt images are skipped, counted and reported; finished frames are
skipped on a re-run.

Test frames stay out of training: every frame within `exclude_margin_s` seconds of a frame of
a test split (the root's own `splits/test*.txt`, mapped to raw time through
`<folder>.timestamps`, and any `--exclude-split` file: md4all, RNW or ADDS format) is dropped
from training and validation folders, so near-duplicates of test views cannot inflate scores.
"""

import argparse
import dataclasses
import logging
import math
import sys
from collections import Counter
from dataclasses import dataclass, MISSING
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

import cv2
import numpy as np
from tqdm import tqdm

from adds_ros import cli_config
from adds_ros.errors import UserError
from adds_ros.settings import check, param
from adds_training.data import layout
from adds_training.data.robotcar import raw, splits
from adds_training.tools import batch

LOGGER = logging.getLogger(__name__)

# ±10 s: at city speeds the car has moved 50-100 m, the view has changed; more than the ±4 s
# of lidar scans that md4all's ground truth accumulates around a test frame.
EXCLUDE_MARGIN_S = 10.0


@dataclass
class PrepareConfig:
    """`adds prepare`'s settings: each declared once, for the command line and for callers."""

    raw: Path  # one sequence (the command line's --raw takes many: add_sequence_arguments)
    models: Path = param(MISSING, 'the RobotCar SDK models/ folder (camera model and LUT)')
    out: Path = param(MISSING, 'processed-data root')
    folder: str = param(MISSING, 'output folder, e.g. day_train (a batch: each sequence\'s name)')
    split: str = param('', 'split name to write (default: folder)')
    height: int = param(256, 'frame height after the resize (pixels)', (1, 1 << 15))
    width: int = param(512, 'frame width after the resize (pixels)', (1, 1 << 15))
    crop_rows: Tuple[int, int] = param((160, 800), 'rows [TOP, BOTTOM) of the undistorted image '
                                       'kept before the resize')
    static_threshold: float = param(0.1, 'drop frames that moved less (metres of VO translation '
                                    'since the previous frame); 0 keeps all', (0.0, math.inf))
    split_file: Optional[Path] = param(None, 'write only the frames of a published split (md4all '
                                       'or RNW)')
    split_format: str = param('auto', 'format of --split-file', choices=('auto',) + splits.FORMATS)
    frames: Optional[Tuple[int, int]] = param(None, 'only positions START..STOP-1 of '
                                              'stereo.timestamps (e.g. to hold out a validation '
                                              'stretch); indices stay global')
    camera: str = raw.CAMERA
    camera_size: Tuple[int, int] = layout.ROBOTCAR_FULL_SIZE
    workers: int = param(2, 'processes per sequence (a batch runs --jobs sequences at a time)',
                         (1, 1 << 10))
    # Frames held out of training: test splits (files, plus the root's splits/test*.txt) and a
    # margin of seconds around each of their frames (docs/robotcar.md, "Test frames").
    exclude_splits: Tuple[Path, ...] = param((), 'test split files (md4all, RNW, ADDS) whose '
                                             'frames and neighbours stay out of this folder; the '
                                             'root\'s splits/test*.txt are always held out')
    exclude_margin_s: float = param(EXCLUDE_MARGIN_S, 'drop frames this close in time (seconds) '
                                    'to a held-out test frame', (0.0, math.inf))

    def __post_init__(self) -> None:
        check(self, 'option')


def crop_info(model: raw.CameraModel, crop_rows: Tuple[int, int],
              image_size: Tuple[int, int]) -> layout.DatasetInfo:
    """Geometry of frames cropped to `crop_rows` of the undistorted image, then resized.

    Normalising by the *cropped* size (not the full 960 rows) is the fix for the reference
    code's intrinsics defect; with the SDK's stereo_wide_left model this equals
    `layout.robotcar_info()`.
    """
    top, bottom = crop_rows
    height, width = model.size
    if not 0 <= top < bottom <= height:
        raise ValueError(f'crop rows {crop_rows} outside an image of {height} rows')
    info = layout.robotcar_info(image_size)
    crop_h = bottom - top
    (fx, fy), (cx, cy) = model.focal, model.principal
    info.K = [[fx / width, 0.0, cx / width], [0.0, fy / crop_h, (cy - top) / crop_h],
              [0.0, 0.0, 1.0]]
    info.gt_size = (height, width)
    info.gt_crop = (top, bottom, 0, width)
    return info


def moving_frames(stamps: np.ndarray, trajectory: raw.Trajectory, threshold: float
                  ) -> np.ndarray:
    """Mask of frames whose VO translation since the previous frame reaches `threshold`."""
    positions = trajectory.at(stamps)[:, :3, 3]
    step = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    step = np.concatenate([step[:1], step])  # the first frame inherits its successor's motion
    return step >= threshold


def process_frame(bayer_path: Path, model: raw.CameraModel, crop_rows: Tuple[int, int],
                  size: Tuple[int, int]) -> np.ndarray:
    """Demosaic, undistort, crop and resize one raw frame to RGB uint8 (height, width)."""
    rgb = model.undistort(raw.read_bayer_image(bayer_path))
    top, bottom = crop_rows
    height, width = size
    return cv2.resize(rgb[top:bottom], (width, height), interpolation=cv2.INTER_AREA)


_WORKER: Dict = {}


def _init_worker(cfg: PrepareConfig) -> None:
    _WORKER['cfg'] = cfg
    _WORKER['model'] = raw.read_camera_model(cfg.models, cfg.camera, cfg.camera_size)


def _run_job(job: Tuple[int, int]) -> Tuple[int, str, str]:
    """Write one frame; return (index, status, message); status done/resumed/missing/corrupt."""
    index, stamp = job
    cfg = _WORKER['cfg']
    dst = layout.frame_path(cfg.out, cfg.folder, index)
    if dst.exists():
        return index, 'resumed', ''
    src = cfg.raw / raw.IMAGE_DIR / f'{stamp}.png'
    if not src.exists():
        return index, 'missing', f'no image for timestamp {stamp}'
    try:
        rgb = process_frame(src, _WORKER['model'], cfg.crop_rows, (cfg.height, cfg.width))
    except (ValueError, cv2.error) as err:
        return index, 'corrupt', str(err)
    layout.write_rgb(dst, rgb)
    return index, 'done', ''


def run_jobs(cfg, jobs: Sequence[Tuple[int, int]], desc: str, worker_init: Callable,
             worker_fn: Callable) -> List[Tuple]:
    """Run `worker_fn` over jobs on `cfg.workers` processes with a progress bar."""
    bar = dict(total=len(jobs), desc=desc, unit='frame', disable=not sys.stderr.isatty())
    if cfg.workers <= 1:
        worker_init(cfg)
        return [worker_fn(job) for job in tqdm(jobs, **bar)]
    with Pool(cfg.workers, initializer=worker_init, initargs=(cfg,)) as pool:
        return list(tqdm(pool.imap_unordered(worker_fn, jobs, chunksize=4), **bar))


def select_frames(cfg: PrepareConfig, stamps: np.ndarray) -> Tuple[List[int], List[int], int]:
    """Choose frame indices to write and the split's centre indices; also count static drops."""
    if cfg.split_file is not None:
        records = splits.read_published_split(cfg.split_file, cfg.split_format)
        position = {int(t): i for i, t in enumerate(stamps)}
        wanted = [t for t in splits.timestamps(records, with_neighbours=True) if t in position]
        centres = [position[r.timestamp] for r in records if r.timestamp in position]
        return sorted(position[t] for t in wanted), centres, 0
    start, stop = cfg.frames or (0, len(stamps))
    indices = np.arange(len(stamps))[start:stop]
    if len(indices) == 0:
        raise ValueError(f'--frames {start} {stop} selects none of {len(stamps)} frames')
    if cfg.static_threshold > 0:
        moving = moving_frames(stamps, raw.read_vo(cfg.raw / raw.VO_FILE), cfg.static_threshold)
        kept = indices[moving[indices]]
        return kept.tolist(), [], len(indices) - len(kept)
    return indices.tolist(), [], 0


def split_timestamps(root: Path, split_file: Path, fmt: str = 'auto') -> List[int]:
    """Raw µs of every frame a split needs (md4all neighbours included).

    ADDS-format entries (`folder/index`) are mapped through `<root>/<folder>.timestamps`, so
    they must name frames that `adds prepare` wrote into `root`.
    """
    records = splits.read_published_split(split_file, fmt)
    if all(r.timestamp is not None for r in records):
        return splits.timestamps(records, with_neighbours=True)
    stamps, known = [], {}
    for record in records:
        if record.folder not in known:
            try:
                known[record.folder] = layout.read_index_timestamps(root, record.folder)
            except FileNotFoundError:
                path = layout.timestamps_path(root, record.folder)
                raise ValueError(f'{split_file}: cannot hold out {record.folder}/... frames: '
                                 f'{path} is missing (frames not written by adds prepare have '
                                 'no raw time)') from None
        if record.index not in known[record.folder]:
            raise ValueError(f'{split_file}: {record.folder}/{record.index} is not listed in '
                             f'{layout.timestamps_path(root, record.folder)}')
        stamps.append(known[record.folder][record.index])
    return sorted(stamps)


def held_out_timestamps(cfg: PrepareConfig) -> np.ndarray:
    """Raw µs of all test frames to keep training away from: given files + root test splits."""
    files = [(Path(f), 'auto') for f in cfg.exclude_splits]
    files += [(f, 'adds') for f in sorted((Path(cfg.out) / 'splits').glob('test*.txt'))]
    stamps = [t for path, fmt in files for t in split_timestamps(cfg.out, path, fmt)]
    return np.array(sorted(set(stamps)), dtype=np.int64)


def hold_out(stamps: np.ndarray, indices: Sequence[int], held: np.ndarray,
             margin_s: float) -> List[int]:
    """Return the indices whose frame lies more than `margin_s` from every held-out frame."""
    if len(held) == 0:
        return list(indices)
    times = stamps[np.asarray(indices, dtype=np.int64)]
    pos = np.clip(np.searchsorted(held, times), 1, len(held)) - 1
    nearest = np.minimum(np.abs(times - held[pos]),
                         np.abs(times - held[np.minimum(pos + 1, len(held) - 1)]))
    return [i for i, gap in zip(indices, nearest) if gap > margin_s * 1e6]


def write_timestamps(cfg: PrepareConfig, stamps: np.ndarray, written: Sequence[int]) -> None:
    """Record `<index> <µs>` of the folder's frames (merged with earlier runs into it).

    `adds gt` and users map indices back to raw timestamps with it.
    """
    known = {}
    if layout.timestamps_path(cfg.out, cfg.folder).exists():
        known = layout.read_index_timestamps(cfg.out, cfg.folder)
    known.update({i: int(stamps[i]) for i in written})
    layout.write_index_timestamps(cfg.out, cfg.folder, known)


def save_info(cfg: PrepareConfig, info: layout.DatasetInfo) -> None:
    """Write dataset.json, refusing to mix geometries in one processed root."""
    path = cfg.out / layout.DATASET_INFO
    if path.exists():
        old = layout.DatasetInfo.load(cfg.out)
        if not (np.allclose(old.K, info.K) and tuple(old.image_size) == tuple(info.image_size)):
            raise ValueError(f'{path} describes other intrinsics or image size; use another '
                             '--out for a different crop or resolution')
    info.save(cfg.out)


def prepare(cfg: PrepareConfig) -> Counter:
    """Process one sequence; return counts (done, resumed, missing, corrupt, static)."""
    cfg.raw, cfg.models, cfg.out = Path(cfg.raw), Path(cfg.models), Path(cfg.out)
    model = raw.read_camera_model(cfg.models, cfg.camera, cfg.camera_size)
    save_info(cfg, crop_info(model, cfg.crop_rows, (cfg.height, cfg.width)))
    stamps = raw.read_timestamps(cfg.raw / raw.IMAGE_TIMESTAMPS)
    indices, centres, static = select_frames(cfg, stamps)
    held_out = 0
    if cfg.split_file is None:  # a training / validation folder: keep test views out
        kept = hold_out(stamps, indices, held_out_timestamps(cfg), cfg.exclude_margin_s)
        indices, held_out = kept, len(indices) - len(kept)
    results = run_jobs(cfg, [(i, int(stamps[i])) for i in indices], f'prepare {cfg.folder}',
                       _init_worker, _run_job)
    counts = Counter(status for _, status, _ in results)
    counts['static'] = static
    counts['held_out'] = held_out
    written = sorted(i for i, status, _ in results if status in ('done', 'resumed'))
    write_timestamps(cfg, stamps, written)
    present = set(written)
    if cfg.split_file is None:  # triplet centres (layout.triplet_ok, in O(1) per frame)
        centres = [i for i in written if i - 1 in present and i + 1 in present]
    layout.write_split(layout.split_path(cfg.out, cfg.split or cfg.folder),
                       [(cfg.folder, i) for i in centres if i in present])
    for index, status, message in sorted(results):
        if status in ('missing', 'corrupt'):
            LOGGER.warning(f'skipped frame {index}: {message}')
    return counts


class SequenceJob(batch.Job):
    """A per-sequence command over many sequences: each writes the folder named as it is."""

    suffix = ''  # the output folder is `<root>/<sequence name><suffix>`

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def task_config(self, task: batch.Task):
        """Return a task's one-sequence config: its raw folder, its name as the folder."""
        return dataclasses.replace(self.cfg, raw=Path(task.input), folder=Path(task.input).name)

    def leftovers(self, task: batch.Task) -> List[Path]:
        return batch.hidden_temporaries(Path(task.output))


class PrepareJob(SequenceJob):
    """`adds prepare` over many sequences; each one's split is named as its folder."""

    command = 'prepare'

    def run(self, task: batch.Task) -> Dict[str, int]:
        counts = prepare(self.task_config(task))
        if not counts['done'] + counts['resumed']:
            raise UserError(f'no frame written ({report_line(counts, task.input)})')
        return dict(counts, frames=counts['done'])

    def leftovers(self, task: batch.Task) -> List[Path]:
        root, folder = self.cfg.out, Path(task.input).name
        return (super().leftovers(task) + batch.hidden_temporaries(root, f'{folder}.timestamps')
                + batch.hidden_temporaries(layout.split_path(root, folder).parent,
                                           f'{folder}.txt'))


def is_sequence(path: Path) -> bool:
    return (path / raw.IMAGE_TIMESTAMPS).is_file()


def sequence_batch(args: argparse.Namespace, job: SequenceJob, single: Sequence[str]) -> int:
    """Run `job` over every sequence `--raw` names; `single` are the one-sequence options."""
    given = [f'--{name.replace("_", "-")}' for name in single if getattr(args, name)]
    if given:
        raise UserError(f'{", ".join(given)} name(s) one sequence\'s output; with many '
                        'sequences each writes the folder named as the sequence')
    sequences = batch.expand_inputs(args.sequences, is_sequence, 'RobotCar sequence')
    tasks = batch.tasks_into(sequences, args.out, lambda p: p.name + job.suffix)
    return batch.run_command(job, tasks, batch.config_from_args(
        args, args.out / f'manifest-{job.command}.json'))


def add_sequence_arguments(parser: argparse.ArgumentParser, cls: type,
                           extra: Optional[Dict[str, dict]] = None,
                           parsers: Optional[Dict[str, Callable[[str], Any]]] = None) -> None:
    """Add --raw (one or many sequences), an option per field of `cls`, and the batch options.

    `cls` is `adds prepare`'s or `adds gt`'s config; `extra` and `parsers` as for
    `cli_config.add_options`.
    """
    parser.add_argument('--raw', dest='sequences', nargs='+', required=True, metavar='SEQUENCE',
                        help='sequence folder, e.g. .../2014-12-09-13-21-02; several, a glob or '
                        'a folder of sequences run as a batch, each into the folder named as '
                        'the sequence')
    cli_config.add_options(parser, cls, skip=('raw', 'camera', 'camera_size'), parsers=parsers,
                           extra={'folder': {'required': False}, **(extra or {})})
    batch.add_arguments(parser)


def single_sequence(args: argparse.Namespace) -> Optional[Path]:
    """Return the one sequence of a plain run, or None for a batch (needs no --folder)."""
    if batch.is_batch(args.sequences, is_sequence):
        return None
    if not args.folder:
        raise UserError('--folder is required (the output folder, e.g. day_train)')
    return Path(args.sequences[0])


def run_sequences(args: argparse.Namespace, cls: type, job: Type[SequenceJob],
                  work: Callable[[Any], Counter], single: Sequence[str]) -> int:
    """Run `adds prepare` or `adds gt`: `work` on one sequence, or `job` over many."""
    sequence = single_sequence(args)
    cfg = cli_config.build_checked(cls, args, preset=dict(raw=sequence, folder=None))
    try:
        if sequence is None:
            return sequence_batch(args, job(cfg), single)
        counts = work(cfg)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from None
    return report(counts, f'{job.command} {cfg.folder}')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sequence_arguments(parser, PrepareConfig, extra={
        'crop_rows': {'nargs': 2, 'metavar': ('TOP', 'BOTTOM')},
        'frames': {'nargs': 2, 'metavar': ('START', 'STOP')},
        'exclude_splits': {'flags': ['--exclude-split'], 'metavar': 'FILE'},
        'exclude_margin_s': {'flags': ['--exclude-margin'], 'metavar': 'SECONDS'}},
        parsers={'crop_rows': int, 'frames': int})


def report_line(counts: Counter, what: str) -> str:
    problems = {k: v for k, v in counts.items() if k not in ('done', 'resumed') and v}
    return (f'{what}: {counts["done"]} written, {counts["resumed"]} already done'
            + ''.join(f', {v} {k}' for k, v in sorted(problems.items())))


def report(counts: Counter, what: str) -> int:
    """Print the end-of-run summary; exit status 1 only if nothing usable was produced."""
    print(report_line(counts, what))
    return 0 if counts['done'] + counts['resumed'] else 1


def run(args: argparse.Namespace) -> int:
    return run_sequences(args, PrepareConfig, PrepareJob, prepare,
                         ('folder', 'split', 'split_file'))

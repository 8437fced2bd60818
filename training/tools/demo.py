# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds demo`: the whole system on the embedded synthetic world, in one command.

Seven stages, each announced, each a call into the module that does the real work:

1. synth   - a small day/night street dataset with exact depth (`adds synth`);
2. train   - a short ADDS run on it, day frames + their night twins (`adds train`);
3. eval    - day and night test splits, median-scaled and metric (`adds eval`);
4. export  - the depth network to ONNX with metadata and metric scale (`adds export`);
5. bag     - the night test drive as a camera bag: rgb8 images + camera_info;
6. depth   - the depth node core over that bag into a depth bag, scored against the ground
             truth (`adds bag-depth`);
7. picture - night input | predicted depth | ground truth, and the same by day.

Everything lands in one folder. A stage whose outputs exist is skipped (every output is
written atomically, so an existing one is complete) and training resumes from its last
checkpoint, so an interrupted demo continues where it stopped. The settings that change
results are recorded in `demo.json`; re-running the folder with other settings is refused.
"""

import argparse
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from adds_ros.atomic import write_text_atomic
from adds_ros import cli_config
from adds_ros.errors import UserError

LOGGER = logging.getLogger(__name__)

EVAL_SPLITS = ('test_day', 'test_night')
PROTOCOLS = ('full40', 'full40_metric')   # median-scaled, and with the global metric scale
SCALE_SPLIT = 'val_day'                     # the metric scale is measured on validation data
IMAGE_TOPIC = '/camera/image_raw'
FRAME_ID = 'camera_optical'
START_NS = 1_700_000_000 * 10 ** 9          # first stamp of the camera bag
FRAME_PERIOD_NS = 100_000_000               # 10 Hz: the synthetic car moves ~1 m per frame


@dataclass
class DemoConfig:
    """What the demo does. Sized for a 2-core CPU: ~1 s per training step (docs/demo.md)."""

    out: Path = Path('outputs/demo')
    seed: int = 0
    height: int = 64
    width: int = 128
    frames: int = 40            # per street (sequence)
    train_sequences: int = 6
    steps: int = 400
    batch_size: int = 4
    lr: float = 1e-4
    # From random weights depth needs this range to start at the scale of the pose network's
    # motion (docs/training.md, "Training from scratch").
    min_depth: float = 0.01
    workers: int = 2            # rendering processes
    device: str = 'auto'        # training / evaluation device

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.height % 32 or self.width % 32:
            raise ValueError(f'height and width must be multiples of 32, got '
                             f'{self.height}x{self.width}')
        if self.frames < 3 or self.train_sequences < 1 or self.steps < 1 or self.batch_size < 1:
            raise ValueError('need frames >= 3, train_sequences >= 1, steps >= 1 and '
                             'batch_size >= 1')

    def recorded(self) -> dict:
        """Return the settings that change results (not where, how fast or on what they run)."""
        skip = {'out', 'workers', 'device'}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


# --quick: the whole chain at a toy size, for tests and a first look (about half a minute).
QUICK = dict(height=64, width=128, frames=6, train_sequences=1, steps=2, batch_size=2,
             workers=1)


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes, all inside one folder."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / 'data'

    @property
    def train(self) -> Path:
        return self.root / 'train'

    @property
    def checkpoint(self) -> Path:
        return self.train / 'last.pt'

    @property
    def train_summary(self) -> Path:
        return self.train / 'summary.json'

    @property
    def eval(self) -> Path:
        return self.root / 'eval'

    @property
    def metrics(self) -> Path:
        return self.eval / 'results.json'

    @property
    def model(self) -> Path:
        return self.root / 'model.onnx'

    @property
    def camera_bag(self) -> Path:
        return self.root / 'night_camera_bag'

    @property
    def depth_bag(self) -> Path:
        return self.root / 'night_depth_bag'

    @property
    def depth_report(self) -> Path:
        return self.root / 'night_depth_bag.json'

    @property
    def picture(self) -> Path:
        return self.root / 'demo.png'

    @property
    def timings(self) -> Path:
        return self.root / 'timings.json'


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1) + '\n')


def check_settings(cfg: DemoConfig, paths: DemoPaths) -> None:
    """Record the settings in demo.json, or refuse a folder made with other settings."""
    record = paths.root / 'demo.json'
    if record.exists():
        old = read_json(record)
        changed = sorted(k for k, v in cfg.recorded().items() if old.get(k) != v)
        if changed:
            raise ValueError(f'{paths.root} holds a demo made with other settings '
                             f'({", ".join(f"{k}: {old.get(k)}" for k in changed)}); '
                             'use another --out or delete that folder')
    else:
        write_json(record, cfg.recorded())


# ---------------------------------------------------------------- stages

def run_synth(cfg: DemoConfig, paths: DemoPaths) -> None:
    from adds_training.data.synthetic.write import render_dataset, SynthConfig

    render_dataset(paths.data, SynthConfig(
        seed=cfg.seed, height=cfg.height, width=cfg.width, frames=cfg.frames,
        train_sequences=cfg.train_sequences, val_sequences=1, test_sequences=1,
        night_sequences=0, workers=cfg.workers))


def train_config(cfg: DemoConfig, paths: DemoPaths):
    """Configure ADDS training on the synthetic world's day frames and exact night twins."""
    from adds_training.config import TrainConfig

    return TrainConfig(
        mode='adds', data_root=str(paths.data), out_dir=str(paths.train), height=cfg.height,
        width=cfg.width, batch_size=cfg.batch_size, num_workers=0, epochs=10 ** 6,
        max_steps=cfg.steps, lr=cfg.lr, min_depth=cfg.min_depth, lr_decay_epochs=[],
        seed=cfg.seed, device=cfg.device,
        val_splits=['val_day', 'val_night'], val_protocol='full40', val_every_epochs=5,
        log_every=5, image_every=100, checkpoint_every=50)


def run_train(cfg: DemoConfig, paths: DemoPaths) -> None:
    from adds_training.trainer import Trainer

    trainer = Trainer(train_config(cfg, paths))
    if paths.checkpoint.exists():
        trainer.resume(paths.checkpoint)
        LOGGER.info(f'resuming training from {paths.checkpoint} at step {trainer.step}')
    write_json(paths.train_summary, trainer.fit())


def run_eval(cfg: DemoConfig, paths: DemoPaths) -> None:
    from adds_training.device import pick_device
    from adds_training.evaluate import estimate_metric_scale, evaluate_split, write_reports
    from adds_training.metrics import get_protocol
    from adds_training.networks import load_depth_net

    net, info = load_depth_net(paths.checkpoint)
    meta = info['meta']
    geometry = dict(height=meta['height'], width=meta['width'], min_depth=meta['min_depth'],
                    max_depth=meta['max_depth'], device=pick_device(cfg.device))
    net.to(geometry['device'])
    protocols = [get_protocol(name) for name in PROTOCOLS]
    scale = estimate_metric_scale(net, str(paths.data), SCALE_SPLIT, protocols[0], **geometry)
    results = {split: evaluate_split(net, str(paths.data), split, protocols,
                                     metric_scale=scale, **geometry)
               for split in EVAL_SPLITS}
    header = {'checkpoint': str(paths.checkpoint), 'data': str(paths.data),
              'metric_scale': scale, 'metric_scale_split': SCALE_SPLIT,
              'protocols': {p.name: p.description for p in protocols}}
    write_reports(paths.eval, results, header)


def run_export(cfg: DemoConfig, paths: DemoPaths) -> None:
    from adds_training.export import export_checkpoint

    scale = read_json(paths.metrics)['header']['metric_scale']
    export_checkpoint(paths.checkpoint, paths.model, metric_scale=scale)


def night_stamps(paths: DemoPaths) -> List[Tuple[int, int]]:
    """Return (index, stamp ns) of every night test frame, as the camera bag stamps them."""
    from adds_training.data import layout

    entries = layout.read_split(layout.split_path(paths.data, 'test_night'))
    return [(index, START_NS + i * FRAME_PERIOD_NS) for i, (_, index) in enumerate(entries)]


def run_camera_bag(cfg: DemoConfig, paths: DemoPaths) -> None:
    """Record the night test drive as a camera would, plus the index -> µs lookup of its GT."""
    from adds_training.tools.bags.dataset_bag import write_camera_bag
    from adds_training.data import layout

    frames = night_stamps(paths)
    layout.write_index_timestamps(paths.data, 'night_test',
                                  {index: stamp // 1000 for index, stamp in frames})
    write_camera_bag(paths.camera_bag, paths.data, 'night_test', frames, IMAGE_TOPIC, FRAME_ID)


def run_depth_bag(cfg: DemoConfig, paths: DemoPaths) -> None:
    from adds_ros.params import NodeParams
    from adds_training.tools.bags.bag_depth import bag_depth, BagDepthConfig, report

    summary = bag_depth(BagDepthConfig(
        bag=paths.camera_bag, out=paths.depth_bag, params=NodeParams(model=str(paths.model)),
        gt_root=paths.data, gt_folder='night_test', protocol=PROTOCOLS[1], overwrite=True))
    LOGGER.info(report(summary, PROTOCOLS[1]))
    write_json(paths.depth_report, {
        'frames': summary.frames, 'written': summary.written,
        'skipped': dict(summary.skipped), 'evaluated': summary.evaluated,
        'protocol': PROTOCOLS[1], 'metrics': summary.metrics,
        'mean_latency_ms': summary.mean_latency_ms})


def depth_topic() -> str:
    """Name the metric depth topic bag-depth writes for the camera (the model has a scale)."""
    from adds_training.tools.bags.bag_depth import output_namespace

    return output_namespace(IMAGE_TOPIC) + '/depth/image'


def middle_frame(paths: DemoPaths, split: str) -> Tuple[str, int]:
    from adds_training.data import layout

    entries = layout.read_split(layout.split_path(paths.data, split))
    return tuple(entries[len(entries) // 2])


def run_picture(cfg: DemoConfig, paths: DemoPaths) -> None:
    """Night: the depth bag's frame (the node's output); day: the ONNX model via the estimator."""
    from adds_ros.estimator import DepthEstimator
    from adds_training import pictures
    from adds_training.tools.bags.dataset_bag import depth_image_at
    from adds_training.data import layout

    rows = []
    folder, index = middle_frame(paths, 'test_night')
    stamp = dict(night_stamps(paths))[index]
    rows.append(pictures.depth_strip(
        layout.read_rgb(layout.frame_path(paths.data, folder, index)),
        depth_image_at(paths.depth_bag, depth_topic(), stamp),
        layout.read_gt_png(layout.gt_path(paths.data, folder, index)),
        ('night input', 'ADDS depth (depth bag)', 'ground truth')))
    folder, index = middle_frame(paths, 'test_day')
    rgb = layout.read_rgb(layout.frame_path(paths.data, folder, index))
    with DepthEstimator(paths.model, backend='onnxruntime', device='cpu') as estimator:
        depth = estimator.metric_depth(estimator.predict(rgb))
    rows.append(pictures.depth_strip(
        rgb, depth, layout.read_gt_png(layout.gt_path(paths.data, folder, index)),
        ('day input', 'ADDS depth (ONNX)', 'ground truth')))
    pictures.save_png(paths.picture, np.concatenate(rows, 0))


@dataclass(frozen=True)
class Stage:
    """One step of the demo: done when all its outputs exist."""

    name: str
    description: str
    outputs: Callable[[DemoPaths], List[Path]]
    run: Callable[[DemoConfig, DemoPaths], None]


def _synth_outputs(paths: DemoPaths) -> List[Path]:
    from adds_training.data import layout
    from adds_training.data.synthetic.write import SPLITS

    return [layout.split_path(paths.data, split) for split in SPLITS]


def _camera_bag_outputs(paths: DemoPaths) -> List[Path]:
    from adds_training.data import layout

    return [paths.camera_bag / 'metadata.yaml', layout.timestamps_path(paths.data, 'night_test')]


STAGES = (
    Stage('synth', 'render the day/night street world with exact depth', _synth_outputs,
          run_synth),
    Stage('train', 'train ADDS (day frames + night twins)', lambda p: [p.train_summary],
          run_train),
    Stage('eval', 'evaluate on the day and night test streets', lambda p: [p.metrics],
          run_eval),
    Stage('export', 'export the depth network to ONNX', lambda p: [p.model], run_export),
    Stage('bag', 'record the night test drive as a camera bag', _camera_bag_outputs,
          run_camera_bag),
    Stage('depth', 'run the depth node over the bag (bag-depth)', lambda p: [p.depth_report],
          run_depth_bag),
    Stage('picture', 'draw input | depth | ground truth, night and day',
          lambda p: [p.picture], run_picture),
)


def run_demo(cfg: DemoConfig) -> Dict[str, float]:
    """Run every stage not yet done; return seconds per stage run now (skipped ones absent)."""
    paths = DemoPaths(cfg.out)
    paths.root.mkdir(parents=True, exist_ok=True)
    check_settings(cfg, paths)
    timings = read_json(paths.timings) if paths.timings.exists() else {}
    ran: Dict[str, float] = {}
    for number, stage in enumerate(STAGES, 1):
        head = f'[{number}/{len(STAGES)}] {stage.name}: {stage.description}'
        if all(path.exists() for path in stage.outputs(paths)):
            LOGGER.info(f'{head} - done already, skipped')
            continue
        LOGGER.info(f'{head} ...')
        start = time.perf_counter()
        stage.run(cfg, paths)
        ran[stage.name] = timings[stage.name] = round(time.perf_counter() - start, 1)
        write_json(paths.timings, timings)
        LOGGER.info(f'{head} - done in {ran[stage.name]:.0f} s')
    return ran


def summary(paths: DemoPaths, seconds: float) -> str:
    """Say where everything is, and give the numbers."""
    from adds_training.metrics import markdown_table

    metrics = read_json(paths.metrics)
    depth = read_json(paths.depth_report)
    rows = [(f'{split} / {name}', values)
            for split, per_protocol in metrics['results'].items()
            for name, values in per_protocol.items()]
    rows.append((f'night depth bag / {depth["protocol"]}', depth['metrics']))
    root = paths.root
    return '\n'.join([
        f'adds demo finished in {seconds / 60:.1f} min. Everything is in {root}/:',
        f'  picture     {paths.picture}  (night input | predicted depth | ground truth; '
        'below, the same by day)',
        f'  metrics     {paths.eval / "results.md"}  (and results.json, per-image CSVs)',
        f'  ONNX model  {paths.model}  (metric scale {metrics["header"]["metric_scale"]:.3f})',
        f'  depth bag   {paths.depth_bag}  ({depth["written"]} depth frames for '
        f'{depth["frames"]} night frames; camera bag: {paths.camera_bag})',
        f'  checkpoint  {paths.checkpoint}  (TensorBoard: {paths.train / "tensorboard"})',
        f'  dataset     {paths.data}',
        f'  timings     {paths.timings}',
        '',
        markdown_table(rows).rstrip(),
        '',
        f'Play it: ros2 bag play {paths.depth_bag}   |   Next: README.md, "Training on RobotCar".',
    ])


HELP = {'out': 'output folder', 'seed': 'world and training seed',
        'height': 'image and network height (multiple of 32)',
        'width': 'image and network width (multiple of 32)', 'frames': 'frames per street',
        'train_sequences': 'training streets', 'steps': 'training steps',
        'batch_size': 'training batch size', 'lr': 'learning rate',
        'min_depth': 'smallest depth the network can predict', 'workers': 'rendering processes',
        'device': 'training device: auto, cpu, cuda, ...'}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--quick', action='store_true',
                        help='toy size (64x128, 2 steps): checks the chain in about 30 s')
    cli_config.add_options(parser, DemoConfig, HELP)


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    """Defaults, then --quick, then any explicit option."""
    return cli_config.build(DemoConfig, args, QUICK if args.quick else None)


def run(args: argparse.Namespace) -> int:
    # Idle OpenMP threads sleep instead of spinning: on a CPU shared with other jobs, spinning
    # threads made training steps 10x slower. Takes effect only before torch is imported.
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    try:
        cfg = config_from_args(args)
        start = time.perf_counter()
        run_demo(cfg)
    except (ValueError, FileNotFoundError) as err:  # a bad flag or a missing file given
        raise UserError(str(err)) from None
    print(summary(DemoPaths(cfg.out), time.perf_counter() - start))
    return 0

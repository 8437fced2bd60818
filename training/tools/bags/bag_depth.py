# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bag-depth`: the depth node over every image of a bag, offline, into a new bag.

The live node's own per-frame path does the work (`adds_ros.pipeline.FrameHandler`: decoding
of every encoding the node takes, the camera_info policy, the estimator, the metric-scale
policy, the colourised view, drop accounting), called once per frame, so none is superseded as
on a live graph and the output holds exactly what a live node would have published for each
frame: depth (or inverse depth when no metric scale is known) and the colourised view, each
with the camera_info beside it, with the input's stamps and frame_ids, logged at the input's
times. camera_info is paired as the live node pairs it, with log time as arrival time
(`adds_ros.camera_info.ReplayPairing`). Frames the node rejects are skipped and counted by the
node's own drop reasons; a held ground-plane scale ages in the bag's time.

With `--gt ROOT --gt-folder FOLDER` the depth is scored against ground truth in the processed
layout that `adds prepare` + `adds gt` write (`ROOT/FOLDER.timestamps` maps each GT PNG's index
to the µs timestamp that matches the image stamp), under one of the evaluation protocols.
"""

import argparse
import dataclasses
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, MISSING
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rosbags.interfaces import QosReliability
from tqdm import tqdm

import yaml

from adds_ros.camera_info import ReplayPairing
from adds_ros.diagnostics import Statistics
from adds_ros import cli_config
from adds_ros.backends import backend_choices
from adds_ros.errors import UserError
from adds_ros.messages import CameraInfo, CompressedImage, Image, array_from_float_image
from adds_ros.params import NodeParams, load_params_file
from adds_ros.settings import check, param, same_as
from adds_ros.pipeline import (DEPTH, INVERSE, EstimatorFactory, FrameHandler,
                               default_estimator_factory, output_type)
from adds_training.tools import batch
from adds_training.tools.bags import rosbag_io
from adds_training.tools.bags.raw_to_bag import BagConfig
from adds_training.data import layout
from adds_training.metrics import (METRIC_NAMES, Protocol, evaluate_image, get_protocol,
                                   markdown_table, mean_metrics)

IMAGE_TYPES = {rosbag_io.IMAGE: Image, rosbag_io.COMPRESSED_IMAGE: CompressedImage}
ROS_TYPES = {Image: rosbag_io.IMAGE, CameraInfo: rosbag_io.CAMERA_INFO}
TF_TOPICS = {'/tf_static': rosbag_io.STATIC_TF_QOS,
             '/tf': rosbag_io.qos_profile(QosReliability.RELIABLE, 100)}
LOGGER = logging.getLogger(__name__)
RELIABILITY = {'reliable': QosReliability.RELIABLE, 'best_effort': QosReliability.BEST_EFFORT}


@dataclass
class BagDepthConfig:
    """`adds bag-depth`'s settings; those it shares with `adds bag` are BagConfig's."""

    bag: Path  # one recording (the command line takes many: add_arguments)
    out: Path = param(MISSING, 'output bag folder to create (a batch: the folder that receives '
                      'one bag per input, same name)')
    params: NodeParams  # the node's parameters: NodeOptions, node_params
    topic: str = param('', 'input image topic (default: the only one)')
    out_ns: Optional[str] = param(None, 'namespace of the output topics (default: the image '
                                  "topic's, e.g. /stereo/left -> /stereo/left/depth/image)")
    storage: str = same_as(BagConfig, 'storage')
    split_size_mb: float = same_as(BagConfig, 'split_size_mb')
    copy_tf: bool = param(True, 'copy /tf and /tf_static')
    gt_root: Optional[Path] = param(None, 'processed-layout root with GT (adds gt)')
    gt_folder: str = param('', 'GT folder name under --gt (the one passed to adds prepare / '
                           'adds gt)')
    protocol: str = param('adds40', 'evaluation protocol, e.g. adds40, adds60, md4all, rnw40')
    overwrite: bool = same_as(BagConfig, 'overwrite')

    def __post_init__(self) -> None:
        check(self, 'option')


@dataclass
class NodeOptions:
    """The node's parameters as `adds bag-depth` takes them: a params file, -p, then these."""

    model: str = param(MISSING, 'depth model (.onnx / .engine / .pt)')
    backend: Optional[str] = param(None, 'inference backend (default: the node parameter)',
                                   choices=backend_choices)
    device: Optional[str] = param(None, "inference device, e.g. 'cpu', 'cuda:0'")
    scale: Optional[float] = param(None, 'metres per model unit (scale_mode fixed)')
    params_file: Optional[Path] = param(None, 'the node\'s ROS 2 parameters YAML')
    set_params: Tuple[str, ...] = param((), 'set a node parameter, repeatable (as `adds node '
                                        '-p`)')


@dataclass
class BagDepthSummary:
    frames: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)
    evaluated: int = 0
    unscored: int = 0
    metrics: Optional[Dict[str, float]] = None
    mean_latency_ms: float = float('nan')


class GroundTruth:
    """GT depth of the processed layout, looked up by image timestamp (µs)."""

    def __init__(self, root: Path, folder: str) -> None:
        self.root, self.folder = Path(root), folder
        self.index = {stamp: index for index, stamp in
                      layout.read_index_timestamps(self.root, folder).items()}

    def at(self, stamp_us: int) -> Optional[np.ndarray]:
        """GT metres (0 = invalid) for the frame at `stamp_us`, or None if it has none."""
        index = self.index.get(stamp_us)
        path = None if index is None else layout.gt_path(self.root, self.folder, index)
        return layout.read_gt_png(path) if path is not None and path.exists() else None


def choose_image_topic(topics: Dict[str, str], requested: str) -> str:
    """Pick the image topic to process: `requested`, or the bag's only image topic."""
    images = sorted(t for t, msgtype in topics.items() if msgtype in IMAGE_TYPES)
    if requested:
        if requested not in images:
            raise ValueError(f'{requested} is not an image topic of the bag; image topics: '
                             f'{images or "none"}')
        return requested
    if len(images) != 1:
        raise ValueError(f'the bag has {len(images)} image topics {images}; choose one with '
                         '--topic')
    return images[0]


def output_namespace(image_topic: str) -> str:
    """Put outputs beside the camera: '/stereo/left/image_raw' -> '/stereo/left'."""
    return rosbag_io.camera_info_topic(image_topic).rsplit('/', 1)[0]


def read_camera_infos(bag: Path, topic: str) -> List[Tuple[int, CameraInfo]]:
    """Read all camera_info messages of `topic` as (log time, message), in arrival order."""
    arrivals = []
    for _, msgtype, log_time, data in rosbag_io.read_messages(bag, [topic]):
        try:
            msg = rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype), CameraInfo)
        except Exception as err:  # a corrupt record: lost, as a live node would lose it
            LOGGER.warning(f'skipping an undeserializable camera_info at {log_time}: {err}')
            continue
        arrivals.append((log_time, msg))
    return sorted(arrivals, key=lambda arrival: arrival[0])


def score(msg: Image, gt: np.ndarray, protocol: Protocol, metric: bool) -> Dict[str, float]:
    """Metrics of one depth (metres) or inverse-depth image against GT at the same size."""
    values = array_from_float_image(msg)
    if values.shape != gt.shape:
        raise ValueError(f'depth is {values.shape}, ground truth {gt.shape}: evaluate bags of '
                         'full-resolution camera images')
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = values if metric else 1.0 / values
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)
    return evaluate_image(gt, depth, protocol, metric_scale=1.0 if metric else None)


def output_qos(params: NodeParams):
    """Return the rosbags QoS profile the node offers on its depth outputs."""
    return rosbag_io.qos_profile(RELIABILITY[params.output_reliability], params.output_depth)


class OfflineNode:
    """The node's frame handler, fed one frame at a time: every frame is processed."""

    def __init__(self, params: NodeParams,
                 estimator_factory: EstimatorFactory = default_estimator_factory) -> None:
        self.params = params
        self.factory = estimator_factory
        # every latency: the summary's mean covers the bag
        self.handler = FrameHandler(params, LOGGER, latency_window=10 ** 6)

    @property
    def stats(self) -> Statistics:
        return self.handler.stats

    def __enter__(self) -> 'OfflineNode':
        self.pipeline = self.handler.load(self.factory, message_time=True)
        return self

    def __exit__(self, *exc) -> None:
        self.handler.close()

    def outputs(self) -> List[str]:
        """Return what a live node publishes per frame (metres, or inverse depth if unscaled)."""
        return self.handler.served(inverse=False)

    def process(self, msg: Any, pairing: Optional[ReplayPairing],
                log_time: int) -> List[Tuple[str, Any]]:
        """Run one Image or CompressedImage logged at `log_time`; return (topic, message)s."""
        self.stats.receive()
        written: List[Tuple[str, Any]] = []
        self.handler.handle(msg, lambda stamp: pairing.match(stamp, log_time) if pairing
                            else None, self.outputs(),
                            lambda topic, out: written.append((topic, out)), time.monotonic())
        return written


def warn_if_bayer(bag: Path, image_topic: str) -> Optional[str]:
    """Warn (once, from the first image) when a bag holds raw Bayer mosaics; return the encoding.

    The node demosaics them, but the network was trained on rectified colour images: raw,
    distorted mosaics give visibly worse depth, which a user should hear about up front.
    """
    messages = rosbag_io.read_messages(bag, [image_topic])
    try:
        first = next(messages, None)
    finally:
        messages.close()
    if first is None:
        return None
    _, msgtype, _, data = first
    try:
        msg = rosbag_io.deserialize(data, msgtype)
    except Exception:  # noqa: BLE001 - a corrupt first record is counted when it is processed
        return None
    encoding = msg.encoding if msgtype == rosbag_io.IMAGE else msg.format.split(';')[0].strip()
    if not encoding.lower().startswith('bayer_'):
        return None
    LOGGER.warning(f'{image_topic} holds raw Bayer images ({encoding}): the network expects '
                   'rectified colour images (demosaiced and undistorted, as `adds bag '
                   '--image-mode rectified` writes); depth from raw frames is worse')
    return encoding


def bag_depth(cfg: BagDepthConfig,
              estimator_factory: EstimatorFactory = default_estimator_factory
              ) -> BagDepthSummary:
    """Write the depth bag; return counts, latency and (with GT) the mean metrics."""
    cfg.bag, cfg.out = Path(cfg.bag), Path(cfg.out)
    topics = rosbag_io.bag_topics(cfg.bag)
    image_topic = choose_image_topic(topics, cfg.topic)
    info_topic = rosbag_io.camera_info_topic(image_topic)
    warn_if_bayer(cfg.bag, image_topic)
    params = dataclasses.replace(
        cfg.params, compressed=topics[image_topic] == rosbag_io.COMPRESSED_IMAGE,
        use_camera_info=cfg.params.use_camera_info and info_topic in topics)
    if not Path(params.model).is_file():
        raise FileNotFoundError(f'no model at {params.model!r}')
    namespace = output_namespace(image_topic) if cfg.out_ns is None else cfg.out_ns.rstrip('/')
    protocol = get_protocol(cfg.protocol) if cfg.gt_root else None
    gt = GroundTruth(Path(cfg.gt_root), cfg.gt_folder) if cfg.gt_root else None
    pairing = (ReplayPairing(read_camera_infos(cfg.bag, info_topic), params.camera_info_sync,
                             params.camera_info_slop) if params.use_camera_info else None)
    copied = [t for t in TF_TOPICS if cfg.copy_tf and t in topics]
    summary = BagDepthSummary()
    rows: List[Dict[str, float]] = []
    with OfflineNode(params, estimator_factory) as node:
        metric = node.pipeline.metric
        if protocol is not None and not metric and not protocol.median_scaling:
            raise ValueError(f'protocol {cfg.protocol} is metric but the model has no metric '
                             'scale: pass --scale or choose a median-scaling protocol')
        depth_topic = DEPTH if metric else INVERSE
        with rosbag_io.BagWriter(cfg.out, cfg.storage, cfg.split_size_mb, cfg.overwrite) as bag:
            for topic in node.outputs():
                bag.add_topic(f'{namespace}/{topic}', ROS_TYPES[output_type(topic)],
                              output_qos(params))
            for topic in copied:
                bag.add_topic(topic, rosbag_io.TF_MESSAGE, TF_TOPICS[topic])
            wanted = [image_topic] + copied
            for topic, msgtype, log_time, data in tqdm(
                    rosbag_io.read_messages(cfg.bag, wanted), desc='bag-depth', unit='msg',
                    total=rosbag_io.message_count(cfg.bag, wanted),
                    disable=not sys.stderr.isatty()):
                if topic != image_topic:
                    bag.write(topic, log_time, data)
                    continue
                summary.frames += 1
                try:
                    msg = rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype),
                                                 IMAGE_TYPES[msgtype])
                except Exception as err:  # any CDR/conversion failure is a corrupt record
                    summary.skipped['undeserializable'] += 1
                    LOGGER.warning(f'skipping an undeserializable message at {log_time}: {err}')
                    continue
                stamp = rosbag_io.stamp_ns(msg.header.stamp)
                for out_topic, out_msg in node.process(msg, pairing, log_time):
                    bag.write(f'{namespace}/{out_topic}', log_time, out_msg)
                    if out_topic != depth_topic:
                        continue
                    summary.written += 1
                    truth = gt.at(stamp // 1000) if gt is not None else None
                    if truth is None:
                        continue
                    try:
                        rows.append(score(out_msg, truth, protocol, metric))
                    except ValueError as err:  # e.g. no GT pixel inside the protocol's region
                        summary.unscored += 1
                        LOGGER.warning(f'frame {stamp // 1000} not evaluated: {err}')
        summary.skipped.update(node.stats.dropped)
        latencies = list(node.stats.latencies)
    summary.mean_latency_ms = float(np.mean(latencies) * 1e3) if latencies else float('nan')
    summary.evaluated = len(rows)
    summary.metrics = mean_metrics(rows) if rows else None
    return summary


class BagDepthJob(batch.Job):
    """`adds bag-depth` over many bags: one task per bag; a worker keeps its model(s)."""

    command = 'bag-depth'

    def __init__(self, cfg: BagDepthConfig) -> None:
        self.cfg = cfg
        self._estimators: Dict[Tuple[str, str, str, str], Any] = {}

    def held_estimator(self, model: str, params: NodeParams) -> Any:
        """Give every bag the worker's estimator: the model is loaded once per worker."""
        key = (model, params.backend, params.device, params.precision)
        if key not in self._estimators:
            self._estimators[key] = default_estimator_factory(model, params)
        return _HeldEstimator(self._estimators[key])

    def run(self, task: batch.Task) -> Dict[str, Any]:
        cfg = dataclasses.replace(self.cfg, bag=Path(task.input), out=Path(task.output))
        held = len(self._estimators)
        summary = bag_depth(cfg, self.held_estimator)
        if not summary.written:
            raise UserError(f'no depth frame written ({summary.frames} frames in, skipped: '
                            f'{dict(summary.skipped) or "none"})')
        return dict(frames=summary.frames, written=summary.written,
                    skipped=dict(summary.skipped),
                    mean_latency_ms=round(summary.mean_latency_ms, 3) if summary.written else None,
                    models_loaded=len(self._estimators) - held)

    def complete(self, task: batch.Task, record: Optional[dict]) -> bool:
        return not self.cfg.overwrite and (Path(task.output) / rosbag_io.METADATA).is_file()

    def leftovers(self, task: batch.Task) -> List[Path]:
        out = Path(task.output)
        return [p for p in batch.hidden_temporaries(out.parent, out.name)
                if p.name.endswith('.partial')]

    def close(self) -> None:
        for estimator in self._estimators.values():
            getattr(estimator, 'close', lambda: None)()
        self._estimators.clear()


class _HeldEstimator:
    """An estimator the pipeline of one bag uses but does not close: the worker holds it."""

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._estimator, name)

    def close(self) -> None:
        """Keep it open for the worker's next bag."""


def is_bag(path: Path) -> bool:
    """Any recording the readers take: a rosbag2 folder, .mcap/.db3 files or a folder of them."""
    return rosbag_io.is_recording(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('bags', nargs='+', metavar='BAG',
                        help='input recording: a rosbag2 folder, an .mcap or .db3 file, or a '
                        'folder of them without metadata.yaml (one recording); several, a glob '
                        'or a folder of recordings run as a batch into the --out folder')
    cli_config.add_options(parser, BagDepthConfig, skip=('bag', 'params'), extra={
        'split_size_mb': {'flags': ['--split-size'], 'metavar': 'MB'},
        'copy_tf': {'flags': ['--no-tf']}, 'gt_root': {'flags': ['--gt']}})
    cli_config.add_options(parser, NodeOptions, extra={'set_params': {
        'flags': ['-p', '--param'], 'action': 'append', 'nargs': None,
        'metavar': 'NAME:=VALUE'}})
    batch.add_arguments(parser)


def node_params(options: NodeOptions) -> NodeParams:
    """Params file, then -p NAME:=VALUE (YAML values), then the options: ROS 2's order."""
    values: Dict[str, Any] = load_params_file(options.params_file) if options.params_file else {}
    for item in options.set_params:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise ValueError(f'parameter {item!r} must be written NAME:=VALUE')
        values[name] = yaml.safe_load(value)
    values['model'] = options.model
    values.update((name, getattr(options, name)) for name in ('backend', 'device')
                  if getattr(options, name) is not None)
    if options.scale is not None:
        values.update(scale_mode='fixed', scale_factor=float(options.scale))
    return NodeParams.from_dict(values)


def build_config(args: argparse.Namespace, bag: Path) -> BagDepthConfig:
    """Build the node's parameters, then this command's own settings for `bag`."""
    cfg = cli_config.build_checked(BagDepthConfig, args, preset=dict(
        bag=bag, params=node_params(cli_config.build_checked(NodeOptions, args))))
    if cfg.gt_root is not None and not cfg.gt_folder:
        raise ValueError('--gt needs --gt-folder (the processed folder the GT belongs to)')
    return cfg


def report(summary: BagDepthSummary, protocol: str) -> str:
    """Human-readable summary: frames, skips by reason, latency and metrics."""
    skipped = ', '.join(f'{reason} {n}' for reason, n in sorted(summary.skipped.items()))
    lines = [f'{summary.frames} frames in, {summary.written} depth frames written, '
             f'{sum(summary.skipped.values())} skipped ({skipped or "none"}); '
             f'mean latency {summary.mean_latency_ms:.1f} ms']
    if summary.metrics is not None:
        lines.append(f'evaluated {summary.evaluated} frames with ground truth ({protocol}; '
                     f'{summary.unscored} with GT could not be scored):')
        lines.append(markdown_table([('bag', summary.metrics)], METRIC_NAMES).rstrip())
    return '\n'.join(lines)


def run_batch(args: argparse.Namespace) -> int:
    """Many bags: each into `--out/<bag name>`, as tasks of the batch runner."""
    if args.gt_root is not None:
        raise UserError('--gt scores one bag against its own GT folder: run it per bag')
    bags = batch.expand_inputs(args.bags, is_bag, 'bag')
    try:
        cfg = build_config(args, bags[0])
    except ValueError as err:
        raise UserError(str(err)) from None
    if not Path(cfg.params.model).is_file():
        raise UserError(f'no model at {cfg.params.model!r}')
    job = BagDepthJob(cfg)
    tasks = batch.tasks_into(bags, args.out, lambda p: p.stem if p.is_file() else p.name)
    return batch.run_command(job, tasks, batch.config_from_args(
        args, args.out / f'manifest-{job.command}.json'))


def run(args: argparse.Namespace) -> int:
    if batch.is_batch(args.bags, is_bag):
        return run_batch(args)
    try:
        cfg = build_config(args, Path(args.bags[0]))
        summary = bag_depth(cfg)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        raise UserError(str(err)) from None  # paths, values, the model or device given
    print(f'wrote {cfg.out}')
    print(report(summary, cfg.protocol))
    if not summary.written:
        raise UserError(f'no depth frame written to {cfg.out} ({summary.frames} frames in, '
                        f'skipped: {dict(summary.skipped) or "none"})')
    return 0

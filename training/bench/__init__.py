# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bench`: speed against the machine's own limit and against the plain alternatives.

One command measures, side by side in one run: the machine's matmul rate and the model's FLOPs
(hence the floor latency), inference per backend, the node's per-frame pipeline at camera
size, end-to-end latency and rate through real ROS 2 (rclpy) across processes with the node's
memory over a long run, frames delivered per QoS pairing, and a training step of ADDS and the
Monodepth2 baseline. It prints the tables and writes <out>/benchmarks.md and <out>/benchmarks.json.
`adds_training.bench.suite`; this module only parses arguments, so `adds --help` stays fast.
"""

import argparse
from pathlib import Path

from adds_ros.errors import UserError

SECTIONS = ('inference', 'pipeline', 'transport', 'training', 'fuzz')


def size(text: str):
    """Parse 'HxW' (network input, rows first, as the paper writes 192x640)."""
    try:
        height, width = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected HEIGHTxWIDTH, e.g. 256x512, got {text!r}')
    if height <= 0 or width <= 0:
        raise argparse.ArgumentTypeError(f'size must be positive, got {text!r}')
    return height, width


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adds_training.bench.config import default

    def sizes(name: str) -> str:
        value = default(name)
        return ' '.join(f'{h}x{w}' for h, w in (value if isinstance(value, list) else [value]))

    parser.add_argument('--out', type=Path, help=f'folder for benchmarks.md and benchmarks.json '
                                                 f'(default: {default("out")})')
    parser.add_argument('--work', type=Path, help='folder for the exported models, reused '
                                                  f'between runs (default: {default("work")})')
    parser.add_argument('--checkpoint', type=Path,
                        help='project checkpoint to measure (default: random ResNet-18 ADDS)')
    parser.add_argument('--sizes', type=size, nargs='+',
                        help='network input sizes HxW; the first (the RobotCar one) also runs '
                             f'the pipeline, transport and training (default: {sizes("sizes")})')
    parser.add_argument('--camera', type=size,
                        help=f'camera image size HxW (default: {sizes("camera")}, RobotCar)')
    for name, kind, text in (
            ('iterations', int, 'timed runs per candidate'),
            ('warmup', int, 'untimed runs first'),
            ('threads', int, 'intra-op threads for torch and ONNX Runtime (0: physical cores)'),
            ('ros_frames', int, 'lock-step frames for the end-to-end latency'),
            ('camera_hz', float, 'camera rate of the sustained end-to-end run'),
            ('long_run', float, 'seconds of the sustained run (node memory over thousands of '
                                'frames)'),
            ('train_batch', int, 'training batch size'),
            ('train_steps', int, 'timed optimiser steps (after one untimed)')):
        parser.add_argument('--' + name.replace('_', '-'), type=kind,
                            help=f'{text} (default: {default(name)})')
    parser.add_argument('--thread-counts', type=int, nargs='+',
                        help='thread counts the inference section compares (default: 1 and '
                             '--threads): on shared cores fewer threads can be faster')
    parser.add_argument('--train-size', type=size,
                        help='training input HxW (default: the first --sizes entry)')
    parser.add_argument('--skip', nargs='*', default=[], choices=SECTIONS,
                        help='sections to leave out')
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes and few iterations: checks the command, not the speed')


def run(args: argparse.Namespace) -> int:
    from adds_training.bench.config import BenchConfig
    from adds_training.bench.suite import run_suite

    try:
        config = BenchConfig.from_args(args)
    except ValueError as err:
        raise UserError(str(err)) from None
    return run_suite(config)

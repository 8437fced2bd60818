# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bench`: speed against the machine's own limit and against the plain alternatives.

One command measures, side by side in one run: the machine's matmul rate and the model's FLOPs
(hence the floor latency), inference per backend, the node's per-frame pipeline at camera
size and what each depth confidence method adds to it, end-to-end latency and rate through
real ROS 2 (rclpy) across processes with the node's memory over a long run, frames delivered
per QoS pairing, and a training step of ADDS and the Monodepth2 baseline. It prints the
tables and writes <out>/benchmarks.md and <out>/benchmarks.json.
`adds_training.tools.bench.suite`; this module only parses arguments, so `adds --help` stays fast.
"""

import argparse
from dataclasses import fields

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
    from adds_ros import cli_config
    from adds_training.tools.bench.config import BenchConfig

    defaults = {f.name: cli_config.default_of(f) for f in fields(BenchConfig)}

    def sizes(name: str) -> str:
        value = defaults[name]
        return ' '.join(f'{h}x{w}' for h, w in (value if isinstance(value, list) else [value]))

    help_texts = {
        'out': 'folder for benchmarks.md and benchmarks.json',
        'work': 'folder for the exported models, reused between runs',
        'checkpoint': 'project checkpoint to measure (default: random ResNet-18 ADDS)',
        'sizes': 'network input sizes HxW; the first (the RobotCar one) also runs the pipeline, '
                 f'transport and training (default: {sizes("sizes")})',
        'camera': f'camera image size HxW (default: {sizes("camera")}, RobotCar)',
        'iterations': 'timed runs per candidate', 'warmup': 'untimed runs first',
        'threads': 'intra-op threads for torch and ONNX Runtime (0: physical cores)',
        'thread_counts': 'thread counts the inference section compares (default: 1 and '
                         '--threads): on shared cores fewer threads can be faster',
        'ros_frames': 'lock-step frames for the end-to-end latency',
        'camera_hz': 'camera rate of the sustained end-to-end run',
        'long_run': 'seconds of the sustained run (node memory over thousands of frames)',
        'train_size': 'training input HxW (default: the first --sizes entry)',
        'train_batch': 'training batch size',
        'train_steps': 'timed optimiser steps (after one untimed)',
        'train_warmup': 'untimed optimiser steps first',
        'skip': 'sections to leave out',
        'matmul_size': 'matrix size of the machine\'s matmul rate',
        'matmul_repeats': 'matmul runs, the best counts',
        'profile_runs': 'runs of the ONNX Runtime per-operator profile',
        'quick': 'tiny sizes and few iterations: checks the command, not the speed',
    }
    cli_config.add_options(parser, BenchConfig, help_texts,
                           parsers={'sizes': size, 'camera': size, 'train_size': size},
                           extra={'skip': dict(nargs='*', choices=SECTIONS)})


def run(args: argparse.Namespace) -> int:
    from adds_training.tools.bench.config import BenchConfig
    from adds_training.tools.bench.suite import run_suite

    try:
        config = BenchConfig.from_args(args)
    except ValueError as err:
        raise UserError(str(err)) from None
    return run_suite(config)

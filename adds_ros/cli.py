# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The `adds` command: one entry point, one sub-command per step of the pipeline.

Each sub-command lives in its own module and is imported only when it runs, so `adds --help`
stays fast and the runtime side never imports PyTorch by accident. A module named here provides
`add_arguments(parser)` and `run(args) -> int`.
"""

import argparse
import importlib
import importlib.util
import sys
from typing import Optional, Sequence

from adds_ros import __version__
from adds_ros.errors import EXIT_USER_ERROR, UserError

# name -> (module, one-line help). Order is the order a user walks the pipeline.
COMMANDS = {
    'synth': ('adds_training.data.synthetic.cli', 'render the synthetic day/night street world'),
    'prepare': ('adds_training.data.robotcar.prepare', 'RobotCar raw -> processed layout'),
    'gt': ('adds_training.data.robotcar.gt', 'RobotCar lidar -> ground-truth depth PNGs'),
    'cyclegan': ('adds_training.cyclegan.cli', 'train a day-to-night CycleGAN / translate'),
    'train': ('adds_training.trainer', 'train ADDS or the Monodepth2 baseline'),
    'ablate': ('adds_training.ablation', 'the ADDS ablation on the synthetic world, resumable'),
    'eval': ('adds_training.evaluate', 'evaluate on day and night splits (3 protocols)'),
    'export': ('adds_training.export', 'export the depth network to ONNX with metadata'),
    'engine': ('adds_training.engine_cli', 'build (or reuse) a cached TensorRT engine'),
    'parity': ('adds_training.parity', 'compare two backends or precisions on real images'),
    'bag': ('adds_training.bags.raw_to_bag', 'RobotCar raw sequence -> rosbag2 (mcap/sqlite3)'),
    'bag-depth': ('adds_training.bags.bag_depth', 'run the depth estimator over a whole bag'),
    'node': ('adds_ros.node_cli', 'run the ROS 2 depth node (= ros2 run adds_ros depth_node)'),
    'bench': ('adds_training.bench', 'benchmark inference, pipeline, transport, training'),
    'demo': ('adds_training.demo', 'the whole system on the synthetic world, one command'),
}


def available_commands() -> dict:
    """Return the sub-commands whose module is installed (optional extras may be missing)."""
    out = {}
    for name, (module, help_text) in COMMANDS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            out[name] = (module, help_text)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='adds',
        description='adds_ros: all-day self-supervised monocular depth (ADDS) for vehicles.')
    parser.add_argument('--version', action='version', version=f'adds_ros {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module, help_text) in available_commands().items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command name, then let that command's module parse the rest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    if not argv or argv[0] not in commands:
        parser = build_parser()
        parser.parse_args(argv or ['--help'])
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(commands[name][0])
    parser = argparse.ArgumentParser(prog=f'adds {name}', description=commands[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except UserError as err:
        print(f'adds {name}: {err}', file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as err:  # its message, if any, says what was cleaned up
        print(f'adds {name}: interrupted' + (f': {err}' if str(err) else ''), file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())

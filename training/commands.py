# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The offline half's `adds` sub-commands, registered through the `adds_ros.commands` entry point.

Name -> (module, one-line help), in the order a user walks the pipeline; each module is
imported only when its command runs, so `adds --help` stays fast.
"""

COMMANDS = {
    'synth': ('adds_training.data.synthetic.cli', 'render the synthetic day/night street world'),
    'prepare': ('adds_training.data.robotcar.prepare', 'RobotCar raw -> processed layout'),
    'gt': ('adds_training.data.robotcar.gt', 'RobotCar lidar -> ground-truth depth PNGs'),
    'cyclegan': ('adds_training.cyclegan.cli', 'train a day-to-night CycleGAN / translate'),
    'train': ('adds_training.trainer', 'train ADDS or the Monodepth2 baseline'),
    'ablate': ('adds_training.tools.ablate_command', 'the ADDS ablation on the synthetic world'),
    'eval': ('adds_training.evaluate', 'evaluate on day and night splits (3 protocols)'),
    'export': ('adds_training.export', 'export the depth network to ONNX with metadata'),
    'parity': ('adds_training.tools.parity', 'compare two backends or precisions on images'),
    'bag': ('adds_training.tools.bags.raw_to_bag', 'RobotCar raw sequence -> rosbag2'),
    'bag-depth': ('adds_training.tools.bags.bag_depth', 'run the depth node over a whole bag'),
    'bench': ('adds_training.tools.bench', 'benchmark inference, pipeline, transport, training'),
    'demo': ('adds_training.tools.demo', 'the whole system on the synthetic world, one command'),
}

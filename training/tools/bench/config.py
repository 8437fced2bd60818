# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What `adds bench` measures and for how long: one dataclass, the command line's defaults.

The defaults keep a full run under ten minutes on a loaded 2-core machine.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from adds_ros import cli_config

Size = Tuple[int, int]
QUICK = dict(sizes=[(64, 128)], camera=(240, 320), iterations=3, warmup=1, ros_frames=3,
             camera_hz=20.0, long_run=2.0, train_size=(64, 128), train_steps=1,
             train_warmup=0, matmul_size=256, profile_runs=1, thread_counts=(1,))


@dataclass
class BenchConfig:
    """What to measure and how long; `from_args` maps the command line onto it."""

    out: Path = Path('docs')
    work: Path = Path.home() / '.cache' / 'adds_ros' / 'bench'
    checkpoint: Optional[Path] = None
    sizes: List[Size] = field(default_factory=lambda: [(256, 512), (128, 256)])
    camera: Size = (960, 1280)
    iterations: int = 12
    warmup: int = 2
    threads: int = 0
    thread_counts: Tuple[int, ...] = ()
    ros_frames: int = 20
    camera_hz: float = 30.0
    long_run: float = 70.0
    train_size: Optional[Size] = None
    train_batch: int = 1
    train_steps: int = 1
    train_warmup: int = 1
    skip: Tuple[str, ...] = ()
    matmul_size: int = 2048
    matmul_repeats: int = 5
    profile_runs: int = 5
    quick: bool = False

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ValueError('give at least one network input size')
        for name in ('iterations', 'ros_frames', 'train_batch', 'train_steps'):
            if getattr(self, name) < 1:
                raise ValueError(f'--{name.replace("_", "-")} must be at least 1, got '
                                 f'{getattr(self, name)}')
        if self.checkpoint is not None and not Path(self.checkpoint).exists():
            raise ValueError(f'no checkpoint at {self.checkpoint}')
        import psutil

        self.threads = self.threads or psutil.cpu_count(logical=False) or 1
        self.thread_counts = tuple(sorted(set(self.thread_counts or (1, self.threads))))
        self.sizes = [tuple(s) for s in self.sizes]
        self.train_size = self.train_size or self.sizes[0]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> 'BenchConfig':
        """Defaults, then QUICK with --quick, then any option given."""
        return cli_config.build(cls, args, QUICK if args.quick else None)

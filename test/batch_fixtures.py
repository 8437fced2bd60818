# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Small camera bags, their one-at-a-time depth bags, and a worker killer for the batch tests."""

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from adds_ros.params import NodeParams
from adds_training.data import layout
from adds_training.tools.bags import rosbag_io
from adds_training.tools.bags.bag_depth import BagDepthConfig, bag_depth
from adds_training.tools.bags.dataset_bag import write_camera_bag
from node_fixtures import tiny_model

TOPIC = '/cam/image_raw'


def make_bags(root: Path, frames: Sequence[int], size: Tuple[int, int] = (48, 64)
              ) -> List[Path]:
    """One rgb8 + camera_info bag per entry of `frames` (its frame count), random images."""
    data = root / 'frames'
    layout.robotcar_info(size).save(data)
    rng = np.random.default_rng(len(frames))
    bags = []
    for b, count in enumerate(frames):
        stamps = []
        for i in range(count):
            rgb = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            layout.write_rgb(layout.frame_path(data, f'drive{b}', i), rgb)
            stamps.append((i, 1_000_000_000 * (b + 1) + i * 100_000_000))
        bags.append(root / 'bags' / f'drive{b}')
        write_camera_bag(bags[-1], data, f'drive{b}', stamps, TOPIC, 'cam')
    return bags


def slow_model(path: Path, size: Tuple[int, int]) -> Path:
    """Write a model slow enough per frame that a test can kill a worker mid-bag."""
    return tiny_model(path, height=size[0], width=size[1], layers=4, hidden=24)


def model(path: Path) -> Path:
    return tiny_model(path)


def one_at_a_time(bags: Sequence[Path], out: Path, model_path: Path) -> Dict[str, Path]:
    """Depth bags written by the plain single-bag function: what a batch must reproduce."""
    outputs = {}
    for bag in bags:
        outputs[bag.name] = out / bag.name
        bag_depth(BagDepthConfig(bag=bag, out=out / bag.name,
                                 params=NodeParams(model=str(model_path))))
    return outputs


def messages(bag: Path) -> List[Tuple[str, str, int, bytes]]:
    """Every message of a bag as (topic, type, log time, CDR bytes), in log-time order."""
    return [(topic, msgtype, stamp, bytes(data))
            for topic, msgtype, stamp, data in rosbag_io.read_messages(bag)]


def partials(folder: Path) -> List[Path]:
    """Hidden leftovers of unfinished bags or files in `folder`."""
    return sorted(p for p in folder.glob('.*') if p.name != '.')


class Killer(threading.Thread):
    """SIGKILL the worker running `victim` once its unfinished bag is on disk (mid-task)."""

    def __init__(self, manifest: Path, victim: Path, output: Path, timeout: float = 120) -> None:
        super().__init__(daemon=True)
        self.manifest, self.victim, self.output = manifest, str(victim.absolute()), output
        self.timeout = timeout
        self.killed: Optional[int] = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self.killed is None:
            record = self._record()
            started = list(self.output.parent.glob(f'.{self.output.name}.*.partial'))
            if record and record.get('status') == 'running' and started:
                os.kill(record['worker']['pid'], signal.SIGKILL)
                self.killed = record['worker']['pid']
            time.sleep(0.005)

    def _record(self) -> Optional[dict]:
        try:
            return json.loads(self.manifest.read_text())['tasks'].get(self.victim)
        except (FileNotFoundError, ValueError, KeyError):
            return None

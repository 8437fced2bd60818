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
from adds_training.tools import batch
from adds_training.tools.bags.bag_depth import BagDepthConfig, BagDepthJob, bag_depth
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


def mid_bag(manifest: Path, victim: Path, timeout: float = 120) -> dict:
    """Wait until `victim` runs with its unfinished bag on disk; return its manifest record."""
    output = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            record = json.loads(manifest.read_text())['tasks'].get(str(victim.absolute()))
        except (FileNotFoundError, ValueError, KeyError):
            record = None
        if record and record.get('status') == 'running':
            output = Path(record['output'])
            if list(output.parent.glob(f'.{output.name}.*.partial')):
                return record
        time.sleep(0.005)
    raise AssertionError(f'{victim} was never caught in the middle of its bag')


class Killer(threading.Thread):
    """SIGKILL the worker running `victim` once its unfinished bag is on disk (mid-task)."""

    def __init__(self, manifest: Path, victim: Path) -> None:
        super().__init__(daemon=True)
        self.manifest, self.victim = manifest, victim
        self.killed: Optional[int] = None

    def run(self) -> None:
        pid = mid_bag(self.manifest, self.victim)['worker']['pid']
        os.kill(pid, signal.SIGKILL)
        self.killed = pid


def depth_job(model_path: Path) -> BagDepthJob:
    return BagDepthJob(BagDepthConfig(bag=Path(), out=Path(),
                                      params=NodeParams(model=str(model_path))))


def assert_same_as_one_at_a_time(out: Path, bags: Sequence[Path], reference: Dict[str, Path]
                                 ) -> None:
    for bag in bags:
        assert messages(out / bag.name) == messages(reference[bag.name]), bag.name
    assert partials(out) == []


def kill_mid_bag_and_check(bags: Sequence[Path], model_path: Path, reference: Dict[str, Path],
                           cfg: batch.BatchConfig, out: Path) -> None:
    """Run a batch, SIGKILL the worker of the first bag in the middle of it, check the result.

    The killed task ran again on another worker (two attempts), every output equals the
    one-at-a-time output, and nothing partial is left.
    """
    killer = Killer(cfg.manifest, bags[0])
    killer.start()
    report = batch.run_batch(depth_job(model_path), batch.tasks_into(bags, out), cfg)
    killer.join()
    assert killer.killed is not None
    record = report.records[str(bags[0].absolute())]
    assert (record['status'], record['attempts']) == ('done', 2)
    assert record['worker']['pid'] != killer.killed
    assert report.ok
    assert_same_as_one_at_a_time(out, bags, reference)

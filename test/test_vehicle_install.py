# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The vehicle's install: the runtime requirements and ROS 2 alone run the real depth node.

The test builds that install from this repository: a wheel of the package, a fresh venv (no
system site-packages, which would show this machine's PyTorch), the distributions the wheel's
runtime requirements and its `ros` extra resolve to, and pip installing the wheel with its
dependencies checked against that venv only (`--no-index`). The distributions are taken from
this environment's installed files (hard links), the files pip would unpack from the same
wheels, so no download is needed. Then `depth_node` of that venv runs an ONNX model for a
camera in this process: torch is not importable there, depth comes back, equal to this
process's estimator.
"""

import email.parser
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Set

import numpy as np
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

from adds_ros import messages as m
from adds_ros.estimator import DepthEstimator
from adds_ros.ros_messages import from_ros
from adds_ros.testing.camera import camera_frame
from adds_ros.testing.tiny_model import tiny_model

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # 15-45 s: a wheel, a venv, a node process

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ('setup.py', 'setup.cfg', 'package.xml', 'resource', 'launch', 'config', 'adds_ros',
           'training')
VEHICLE_EXTRAS = {'ros'}  # the ROS 2 wheels, for a machine without ROS 2
CAMERA = (48, 64)


def build_wheel(work: Path) -> Path:
    """Build this repository's wheel from a copy (no build folders in the shared checkout)."""
    source = work / 'source'
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.egg-info'))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps',
                    '--no-build-isolation', '--no-index', '--wheel-dir', str(work / 'wheels'),
                    str(source)], check=True, capture_output=True)
    wheel, = (work / 'wheels').glob('adds_ros-*.whl')
    return wheel


def wheel_requirements(wheel: Path) -> List[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith('.dist-info/METADATA'))
        fields = email.parser.HeaderParser().parsestr(archive.read(name).decode())
    return [Requirement(text) for text in fields.get_all('Requires-Dist') or []]


def wanted(requirement: Requirement, extras: Iterable[str]) -> bool:
    marker = requirement.marker
    return marker is None or any(marker.evaluate({'extra': extra}) for extra in extras)


def closure(requirements: Iterable[Requirement], extras: Set[str]
            ) -> Dict[str, metadata.Distribution]:
    """The installed distributions `requirements` (with `extras`) resolve to, transitively."""
    todo = [r for r in requirements if wanted(r, {''} | extras)]
    found: Dict[str, metadata.Distribution] = {}
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found[name] = metadata.distribution(requirement.name)
        todo += [r for r in map(Requirement, found[name].requires or [])
                 if wanted(r, {''} | set(requirement.extras))]
    return found


def link_installed(dists: Iterable[metadata.Distribution], venv: Path) -> None:
    """Put each distribution's installed files into `venv` at the same place (hard links)."""
    site = next(venv.glob('lib/python*/site-packages'))
    for dist in dists:
        base = Path(dist.locate_file(''))
        for entry in dist.files or []:
            source = Path(os.path.normpath(base / entry))
            if not source.is_file():
                continue
            if source.is_relative_to(base):
                target = site / source.relative_to(base)
            elif source.is_relative_to(sys.prefix):  # scripts, share/
                target = venv / source.relative_to(sys.prefix)
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # another file system
                    shutil.copy2(source, target)


def outside_env() -> Dict[str, str]:
    """This environment without what points into it.

    colcon test sets PYTHONPATH to its install of this package: pip would find adds_ros
    'already satisfied' there and install nothing into the vehicle venv.
    """
    return {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}


@pytest.fixture(scope='module')
def vehicle(tmp_path_factory) -> Path:
    """A venv with only the vehicle's install; returns its bin folder."""
    work = tmp_path_factory.mktemp('vehicle')
    wheel = build_wheel(work)
    venv = work / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    try:
        dists = closure(wheel_requirements(wheel), VEHICLE_EXTRAS)
    except metadata.PackageNotFoundError as missing:  # e.g. rclpy from a sourced ROS 2
        pytest.skip(f'the vehicle install is made of installed wheels; {missing} is not one '
                    'here (ROS 2 as wheels: extra ros)')
    assert not {'torch', 'onnx', 'tensorboard', 'rosbags'} & set(dists)
    link_installed(dists.values(), venv)
    # pip checks every requirement against this venv alone: nothing missing, nothing fetched
    subprocess.run([sys.executable, '-m', 'pip', '--python', str(venv / 'bin' / 'python'),
                    'install', '--quiet', '--no-index', '--no-build-isolation',
                    f'{wheel}[{",".join(sorted(VEHICLE_EXTRAS))}]'], check=True,
                   capture_output=True, env=outside_env())
    return venv / 'bin'


def run_in(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True,
                          env=outside_env(), cwd=bin_dir)


def test_the_vehicle_install_has_no_training_half(vehicle):
    probe = run_in(vehicle, 'python', '-c', 'import torch')
    assert probe.returncode == 1 and "No module named 'torch'" in probe.stderr
    assert run_in(vehicle, 'python', '-c', 'import adds_ros.depth_node').returncode == 0
    assert run_in(vehicle, 'adds', 'engine', '--help').returncode == 0
    train = run_in(vehicle, 'adds', 'train')
    assert train.returncode == 2 and "needs the Python package 'torch'" in train.stderr
    assert "pip install '.[train]'" in train.stderr and 'Traceback' not in train.stderr


def test_the_vehicle_install_runs_the_depth_node(vehicle, tmp_path, monkeypatch):
    """An ONNX model, frames from a camera in this process, depth out."""
    from adds_ros.tools.transport import Graph

    monkeypatch.delenv('PYTHONPATH', raising=False)  # the node sees its venv only
    model = tiny_model(tmp_path / 'tiny.onnx', 16, 32)
    graph = Graph(model, tmp_path, command=[str(vehicle / 'depth_node')])
    try:
        msg = graph.frame(CAMERA)
        arrived = [graph.wait((0, i), 30) for i in range(5) if graph.send(msg, (0, i))]
        assert any(arrived), (graph.log.read_text()[-3000:])
        with graph.peer.lock:
            depth = from_ros(graph.peer.received['depth/image'][-1][1], m.Image)
    finally:
        graph.close()
    with DepthEstimator(model, backend='onnxruntime', device='cpu') as estimator:
        expected = estimator.predict(camera_frame('rgb8', *CAMERA)).depth  # scale_factor 1
    np.testing.assert_allclose(m.array_from_float_image(depth), expected, rtol=1e-5)

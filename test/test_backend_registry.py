# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A backend another package installs plugs in through the `adds_ros.backends` entry point.

The toy package here is installed the way pip installs one: a module and a `.dist-info` folder
with its entry_points.txt on sys.path. Nothing in adds_ros names it, yet the `backend`
parameter accepts it, 'auto' picks it for its own files and the node core runs it.
"""

import sys
import textwrap
import threading
import time
from typing import Any, List, Tuple

import numpy as np
import pytest

from adds_ros import messages as m
from adds_ros.backends import backend_choices, choose_backend, create_backend
from adds_ros.errors import UserValueError
from adds_ros.metadata import ModelMetadata
from adds_ros.node_core import DepthNodeCore
from adds_ros.params import NodeParams

H, W = 16, 32
META = ModelMetadata(input_height=H, input_width=W, min_depth=0.1, max_depth=100.0,
                     metric_scale=2.0)
TOY = '''
    import json

    import numpy as np

    from adds_ros.backends import Backend
    from adds_ros.metadata import ModelMetadata


    class ToyBackend(Backend):
        """Disparity = the mean of the three channels: a network anyone can work out by hand."""

        name = 'toy'
        suffixes = ('.toy',)
        precisions = ('fp32', 'fp16')
        runs = 0

        def __init__(self, model, device='auto', precision='auto'):
            self.metadata = ModelMetadata.from_json(open(model).read())
            self.precision = precision

        def infer(self, image):
            type(self).runs += 1
            return {'disparity': image.mean(axis=1, keepdims=True).astype(np.float32)}
'''


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    """Install the toy backend package into a folder on sys.path; return that folder."""
    site = tmp_path / 'site'
    info = site / 'adds_toy_backend-1.0.dist-info'
    info.mkdir(parents=True)
    (site / 'adds_toy_backend.py').write_text(textwrap.dedent(TOY))
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: adds-toy-backend\n'
                                   'Version: 1.0\n')
    (info / 'entry_points.txt').write_text('[adds_ros.backends]\n'
                                           'toy = adds_toy_backend:ToyBackend\n')
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop('adds_toy_backend', None)


def toy_model(path) -> str:
    path.write_text(META.to_json())
    return str(path)


def test_the_registry_is_closed_until_the_package_is_installed(tmp_path):
    assert 'toy' not in backend_choices()
    with pytest.raises(ValueError, match="'backend' = 'toy' is not one of"):
        NodeParams(model='m.toy', backend='toy')
    with pytest.raises(ValueError, match='cannot tell how to run m.toy'):
        choose_backend('m.toy')


def test_an_entry_point_backend_is_chosen_validated_and_built(toy_installed, tmp_path):
    assert backend_choices()[:3] == ('auto', 'tensorrt', 'onnxruntime')
    assert 'toy' in backend_choices()
    assert NodeParams(model='m.toy', backend='toy').backend == 'toy'
    assert choose_backend('m.toy') == 'toy'  # 'auto' by the suffix the class claims
    assert choose_backend('m.onnx', usable=lambda cls: cls.name != 'tensorrt') == 'onnxruntime'
    with pytest.raises(ValueError, match="backend 'toy' cannot run a .onnx file"):
        choose_backend('m.onnx', 'toy')
    model = toy_model(tmp_path / 'm.toy')
    assert create_backend(model, precision='fp16').precision == 'fp16'
    with pytest.raises(UserValueError, match="the toy backend runs fp32, fp16; precision "
                                             "'int8' needs a backend not installed here"):
        create_backend(model, precision='int8')


def test_a_broken_entry_point_names_itself(toy_installed, tmp_path):
    (toy_installed / 'adds_toy_backend-1.0.dist-info' / 'entry_points.txt').write_text(
        '[adds_ros.backends]\ntoy = adds_toy_backend:NoSuchClass\n')
    with pytest.raises(UserValueError, match=r'the toy backend \(adds_toy_backend:NoSuchClass'
                                             r'\) does not load'):
        create_backend(toy_model(tmp_path / 'm.toy'), backend='toy')


class Recorder:
    """A transport with one subscriber per output, keeping what is published."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: List[Tuple[str, Any]] = []

    def publish(self, topic: str, msg: Any) -> None:
        with self.lock:
            self.sent.append((topic, msg))

    def subscriber_count(self, topic: str) -> int:
        return 1

    def publisher_count(self, topic: str) -> int:
        return 0 if topic == 'camera_info' else 1

    def on(self, topic: str) -> List[Any]:
        with self.lock:
            return [msg for sent, msg in self.sent if sent == topic]


def test_the_node_core_runs_an_entry_point_backend(toy_installed, tmp_path):
    import adds_toy_backend

    params = NodeParams(model=toy_model(tmp_path / 'm.toy'), backend='toy', device='cpu',
                        publish_colorized=False)
    recorder = Recorder()
    core = DepthNodeCore(params, recorder)  # the node's own estimator factory
    core.configure()
    core.activate()
    grey = 128
    rgb = np.full((H, W, 3), grey, np.uint8)
    core.on_image(m.image_from_array(rgb, 'rgb8', m.Header(m.Time(7, 0), 'cam')))
    end = time.monotonic() + 20
    while not recorder.on('depth/image') and time.monotonic() < end:
        time.sleep(0.01)
    core.shutdown()
    depth_msg, = recorder.on('depth/image')
    assert depth_msg.header.stamp == m.Time(7, 0) and adds_toy_backend.ToyBackend.runs == 1
    # disparity grey/255 -> inverse depth 1/100 + (1/0.1 - 1/100) * disparity, x 2 m per unit
    metres = 2.0 / (0.01 + (10.0 - 0.01) * grey / 255)
    np.testing.assert_allclose(m.array_from_float_image(depth_msg), metres, rtol=1e-5)

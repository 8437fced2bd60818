# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""package.xml: every dependency key resolves with rosdep on Humble, Jazzy and Kilted.

The rules come from test/data/rosdep_keys.yaml, an extract of ros/rosdistro (its commit and
files are named in it) made by scripts/rosdep_keys.py; a key added to package.xml without
regenerating the extract fails here, as `rosdep install` would fail for users. Its exec keys
are the vehicle's install and match setup.py's runtime requirements; the training half's keys
are test keys only.
"""

import ast
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'scripts'))
from rosdep_keys import package_keys  # noqa: E402

DATA = yaml.safe_load((ROOT / 'test' / 'data' / 'rosdep_keys.yaml').read_text())


def resolves(rule: Any, codename: str) -> bool:
    """Whether a rosdep rule installs something on Ubuntu `codename` (apt or pip)."""
    if rule is None:
        return False
    platform = rule.get('ubuntu', rule.get('*')) if isinstance(rule, dict) else rule
    if isinstance(platform, dict) and 'pip' not in platform and 'packages' not in platform:
        platform = platform.get(codename, platform.get('*'))
    return bool(platform)


def unresolved(keys: List[str], data: Dict[str, Any]) -> List[str]:
    bad = []
    for distro, codename in data['ubuntu'].items():
        for key in keys:
            if key not in data['ros_packages'][distro] and not resolves(
                    data['rosdep'].get(key), codename):
                bad.append(f'{key} ({distro})')
    return bad


def test_the_extract_names_its_source_and_the_three_distributions():
    assert DATA['source'].startswith('ros/rosdistro ') and 'python.yaml' in DATA['source']
    assert DATA['ubuntu'] == {'humble': 'jammy', 'jazzy': 'noble', 'kilted': 'noble'}


def test_every_package_xml_key_resolves_on_humble_jazzy_and_kilted():
    assert unresolved(package_keys(ROOT / 'package.xml'), DATA) == []


@pytest.mark.parametrize('key', ['rclpy_lifecycle', 'python3-onnx-pip', 'python3-mcap-pip'])
def test_keys_rosdep_cannot_install_are_caught(key):
    assert unresolved([key], DATA) == [f'{key} (humble)', f'{key} (jazzy)', f'{key} (kilted)']


def test_a_rule_missing_on_one_ubuntu_release_is_caught():
    data = {'ubuntu': {'humble': 'jammy', 'kilted': 'noble'},
            'ros_packages': {'humble': [], 'kilted': []},
            'rosdep': {'python3-x': {'ubuntu': {'*': ['python3-x'], 'jammy': None}}}}
    assert unresolved(['python3-x'], data) == ['python3-x (humble)']


# pip requirement -> rosdep key, for the requirements that have one
ROSDEP_KEY = {'numpy': 'python3-numpy', 'opencv-python-headless': 'python3-opencv',
              'onnxruntime': 'python3-onnxruntime-pip', 'PyYAML': 'python3-yaml',
              'tqdm': 'python3-tqdm', 'torch': 'python3-torch',
              'tensorboard': 'python3-tensorboard-pip', 'rosbags': 'python3-rosbags-pip'}


def setup_requirements() -> Dict[str, List[str]]:
    """setup.py's RUNTIME and EXTRAS['train'] as project names, read without running setup()."""
    found = {}
    for node in ast.parse((ROOT / 'setup.py').read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ('RUNTIME', 'EXTRAS'):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    name = re.compile(r'[A-Za-z0-9._-]+')
    return {half: [name.match(req).group(0) for req in reqs] for half, reqs in
            (('runtime', found['RUNTIME']), ('train', found['EXTRAS']['train']))}


def test_exec_keys_are_the_runtimes_and_the_training_half_is_test_only():
    """The vehicle's `rosdep install --dependency-types exec` brings no PyTorch (issue 28)."""
    xml = ROOT / 'package.xml'
    exec_keys = set(package_keys(xml, ('depend', 'exec_depend')))
    test_keys = set(package_keys(xml, ('test_depend',)))
    requirements = setup_requirements()
    runtime = {ROSDEP_KEY[name] for name in requirements['runtime']}  # each one has a key
    training = {ROSDEP_KEY[name] for name in requirements['train'] if name in ROSDEP_KEY}
    assert {key for key in exec_keys if key.startswith('python3-')} == runtime
    assert training == {'python3-torch', 'python3-tensorboard-pip', 'python3-rosbags-pip'}
    assert training <= test_keys and not training & exec_keys

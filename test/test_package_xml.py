# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""package.xml: every dependency key resolves with rosdep on Humble, Jazzy and Kilted.

The rules come from test/data/rosdep_keys.yaml, an extract of ros/rosdistro (its commit and
files are named in it) made by scripts/rosdep_keys.py; a key added to package.xml without
regenerating the extract fails here, as `rosdep install` would fail for users.
"""

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

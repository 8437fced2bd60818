# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Files the package ships in config/: found in a source tree and in an installed package.

setup.py installs config/ to <prefix>/share/adds_ros/config (where `ros2 pkg prefix` points);
a source checkout or an editable install keeps it next to the packages. Both are tried, so
tools work from a clone, a pip install and a colcon install alike.
"""

import os
from pathlib import Path
from typing import Dict, Mapping

PACKAGE_DIR = Path(__file__).resolve().parent
FASTDDS_PROFILE = 'FASTDDS_DEFAULT_PROFILES_FILE'
LARGE_DATA_PROFILE = 'fastdds_large_data.xml'


def config_file(name: str) -> Path:
    """Path of config/<name>, from the source tree or the install prefix's share folder."""
    candidates = [PACKAGE_DIR.parent / 'config' / name]
    if len(PACKAGE_DIR.parents) > 3:  # <prefix>/lib/pythonX.Y/site-packages/adds_ros
        candidates.append(PACKAGE_DIR.parents[3] / 'share' / 'adds_ros' / 'config' / name)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f'config/{name} is not shipped with this install (looked in '
                            f'{", ".join(str(p.parent) for p in candidates)})')


def large_data_environment(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """Return what to add to a ROS process's environment for camera-size frames.

    Nothing when FASTDDS_DEFAULT_PROFILES_FILE is set, even empty: the user's choice stands
    (an empty value keeps Fast DDS's defaults).
    """
    if FASTDDS_PROFILE in environ:
        return {}
    return {FASTDDS_PROFILE: str(config_file(LARGE_DATA_PROFILE))}

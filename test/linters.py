# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ament linters, with the same checks where ament is not installed.

Under ROS 2 the tests call ament_flake8 / ament_pep257 / ament_copyright. Without ROS 2 the
same rules run through flake8 and pydocstyle (configured in setup.cfg) and a header check.
"""

import subprocess
import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ['adds_ros', 'training', 'test', 'launch', 'setup.py']
COPYRIGHT_LINES = ('# Copyright ', '# SPDX-License-Identifier: Apache-2.0')


def python_files() -> List[Path]:
    files = []
    for name in SOURCES:
        path = ROOT / name
        files.extend(sorted(path.rglob('*.py')) if path.is_dir() else [path])
    return [f for f in files if f.exists()]


def run_tool(module: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', module, *SOURCES], cwd=ROOT,
                          capture_output=True, text=True)


def missing_copyright() -> List[str]:
    bad = []
    for path in python_files():
        head = path.read_text(encoding='utf-8').splitlines()[:4]
        if not all(any(line.startswith(want) for line in head) for want in COPYRIGHT_LINES):
            bad.append(str(path.relative_to(ROOT)))
    return bad

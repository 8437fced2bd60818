# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""scripts/gpu_measure.sh on the CPU: the lent GPU machine's run cannot rot unnoticed.

A lent machine gives minutes, once: a script that dies on a missing package or runs past its
box wastes the loan. Here it checks its packages and names the missing ones, refuses more than
one part per call, and its camera part runs end to end at toy size on the CPU.
"""

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / 'scripts' / 'gpu_measure.sh'


def run(tmp_path, env=None, **variables):
    environment = {**os.environ, 'PYTHON': sys.executable, 'OUT': str(tmp_path / 'out'),
                   'WORK': str(tmp_path / 'work'), **variables, **(env or {})}
    return subprocess.run(['bash', str(SCRIPT)], capture_output=True, text=True, timeout=300,
                          env=environment)


@pytest.mark.parametrize('part', ['', 'all', 'bench ablate'])
def test_one_named_part_per_call(tmp_path, part):
    result = run(tmp_path, PART=part)
    assert result.returncode == 2
    assert 'set PART to one of camera, bench, ablate, check' in result.stderr


def test_missing_packages_are_named_before_anything_starts(tmp_path):
    """tensorboard made unimportable: the ablation part says so and does not start."""
    blocker = tmp_path / 'blocker'
    blocker.mkdir()
    (blocker / 'sitecustomize.py').write_text(
        'import sys\n'
        'class Block:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        "        if name.split('.')[0] in ('tensorboard', 'onnxscript'):\n"
        "            raise ImportError(f'{name} blocked by the test')\n"
        'sys.meta_path.insert(0, Block())\n')
    result = run(tmp_path, {'PYTHONPATH': str(blocker)}, PART='ablate', SIZE='tiny')
    assert result.returncode == 3
    assert result.stderr.strip().endswith('missing: onnxscript tensorboard')
    assert not (tmp_path / 'work').exists()            # nothing installed, nothing started
    assert run(tmp_path, PART='check').returncode == 0


@pytest.mark.slow
def test_camera_part_dry_run_at_toy_size(tmp_path):
    result = run(tmp_path, PART='camera', SIZE='tiny')
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    report = json.loads((tmp_path / 'out' / 'camera.json').read_text())
    rows = {(r['variant'], r['path']): r for r in report['rows']}
    for path in ('host', 'in-graph'):
        assert rows[('onnxruntime', path)]['p50_ms'] > 0
        assert rows[('torch fp32', path)]['n'] == 3
    assert (tmp_path / 'out' / 'camera.log').is_file()

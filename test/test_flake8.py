# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import pytest

from linters import run_tool


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    try:
        from ament_flake8.main import main_with_errors
    except ImportError:
        result = run_tool('flake8')
        assert result.returncode == 0, f'flake8 found problems:\n{result.stdout}{result.stderr}'
    else:
        rc, errors = main_with_errors(argv=[])
        assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import pytest

from linters import run_tool


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    try:
        from ament_pep257.main import main
    except ImportError:
        result = run_tool('pydocstyle')
        assert result.returncode == 0, f'pydocstyle found problems:\n{result.stdout}'
    else:
        assert main(argv=['.', 'test']) == 0, 'Found code style errors / warnings'

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import pytest

from linters import missing_copyright


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    missing = missing_copyright()
    assert not missing, 'files without the copyright/SPDX header:\n' + '\n'.join(missing)

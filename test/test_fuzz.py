# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bounded fuzzing of the input path in CI: 200 mutations per class, about a second in all.

The full run (1,000 per class, with peak memory) is `python -m adds_ros.tools.fuzz`.
"""

import pytest

from adds_ros.tools.fuzz import CLASSES, REASONS, run_class


@pytest.mark.parametrize('name', list(CLASSES))
def test_mutations_end_in_a_valid_result_or_a_named_refusal(name, capfd):
    result = run_class(name, cases=200, seed=1)
    assert result['crashes'] == []
    assert result['invalid'] == 0 and result['bad_messages'] == 0
    assert set(result['refused']) <= REASONS
    assert result['accepted'] + sum(result['refused'].values()) == 200
    assert capfd.readouterr().err == ''  # the C decoders said nothing on stderr


def test_the_fuzzer_sees_crashes_and_invalid_outputs(monkeypatch):
    from adds_ros.tools import fuzz

    def broken(msg, max_pixels=0):
        if msg.data[:1] == b'\xff':
            raise IndexError('pop from empty list')
        return msg.data  # not a picture
    monkeypatch.setattr(fuzz, 'decode_compressed', broken)
    result = run_class('jpeg_truncate', cases=50)
    assert len(result['crashes']) + result['invalid'] == 50
    assert result['crashes'] and 'IndexError' in result['crashes'][0]


def test_every_encoding_class_reaches_both_outcomes():
    result = run_class('raw_encodings', cases=300, seed=2)
    assert result['crashes'] == [] and result['invalid'] == 0
    assert result['accepted'] > 50
    assert {'truncated', 'step', 'size', 'encoding'} <= set(result['refused'])

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Engine cache: key, validation, rebuild decisions (TensorRT faked at build/deserialise only)."""

import argparse
import dataclasses
import json

import pytest

from adds_ros.backends.engine_cache import (
    check_engine, EngineError, load_engine_file, load_or_build, make_key, Platform,
    record_path_for, sha256_files)
from adds_ros.metadata import ModelMetadata
from adds_training import engine_cli

PLATFORM = Platform('10.3.0', 'Orin', '8.7')
SHAPE = (1, 3, 64, 128)
METADATA = ModelMetadata(input_height=64, input_width=128)


class FakeTensorRT:
    """Builds 'plans' that name their ONNX content; refuses plans not made by itself."""

    def __init__(self, onnx_path, refuse=False):
        self.onnx_path, self.refuse, self.builds = onnx_path, refuse, 0

    def build(self):
        self.builds += 1
        return b'PLAN:' + self.onnx_path.read_bytes()

    def deserialize(self, data):
        return None if self.refuse or not data.startswith(b'PLAN:') else {'plan': data}


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / 'model.onnx'
    path.write_bytes(b'onnx-v1')
    return path


def load(onnx_path, trt, platform=PLATFORM, precision='fp32', **kwargs):
    return load_or_build(onnx_path, precision, SHAPE, platform, METADATA, trt.build,
                         trt.deserialize, log=lambda _: None, **kwargs)


def test_key_changes_when_any_input_changes(tmp_path, onnx_file):
    other_onnx = tmp_path / 'other.onnx'
    other_onnx.write_bytes(b'onnx-v2')
    base = make_key(onnx_file, 'int8', SHAPE, PLATFORM, 'calib-a')
    variants = [
        make_key(other_onnx, 'int8', SHAPE, PLATFORM, 'calib-a'),
        make_key(onnx_file, 'fp16', SHAPE, PLATFORM),
        make_key(onnx_file, 'int8', (1, 3, 128, 256), PLATFORM, 'calib-a'),
        make_key(onnx_file, 'int8', SHAPE, dataclasses.replace(PLATFORM, tensorrt_version='10.8'),
                 'calib-a'),
        make_key(onnx_file, 'int8', SHAPE, dataclasses.replace(PLATFORM, gpu_name='RTX 4090'),
                 'calib-a'),
        make_key(onnx_file, 'int8', SHAPE, dataclasses.replace(PLATFORM,
                                                               compute_capability='8.9'),
                 'calib-a'),
        make_key(onnx_file, 'int8', SHAPE, PLATFORM, 'calib-b'),
    ]
    digests = {base.digest()} | {v.digest() for v in variants}
    assert len(digests) == len(variants) + 1
    assert make_key(onnx_file, 'int8', SHAPE, PLATFORM, 'calib-a') == base


def test_key_rejects_bad_precision_and_uncalibrated_int8(onnx_file):
    with pytest.raises(ValueError, match='precision'):
        make_key(onnx_file, 'fp64', SHAPE, PLATFORM)
    with pytest.raises(ValueError, match='calibration'):
        make_key(onnx_file, 'int8', SHAPE, PLATFORM)


def test_calibration_hash_covers_names_and_contents(tmp_path):
    a, b = tmp_path / 'a.png', tmp_path / 'b.png'
    a.write_bytes(b'1')
    b.write_bytes(b'2')
    first = sha256_files([a, b])
    assert sha256_files([b, a]) == first
    b.write_bytes(b'3')
    assert sha256_files([a, b]) != first


def test_first_load_builds_then_the_cache_is_reused(onnx_file):
    trt = FakeTensorRT(onnx_file)
    first = load(onnx_file, trt)
    assert first.built and trt.builds == 1
    assert first.path.parent == onnx_file.parent and first.path.name.startswith('model.fp32.')
    assert record_path_for(first.path).is_file()
    second = load(onnx_file, trt)
    assert not second.built and trt.builds == 1 and second.reason == 'cached'
    assert second.engine == first.engine
    assert load(onnx_file, trt, force=True).built and trt.builds == 2


def test_reexported_onnx_gets_a_new_engine(onnx_file):
    trt = FakeTensorRT(onnx_file)
    old = load(onnx_file, trt)
    onnx_file.write_bytes(b'onnx-v2, other weights')
    new = load(onnx_file, trt)
    assert new.built and new.path != old.path
    assert new.engine['plan'] == b'PLAN:onnx-v2, other weights'


def test_corrupt_engine_is_rebuilt(onnx_file):
    trt = FakeTensorRT(onnx_file)
    path = load(onnx_file, trt).path
    path.write_bytes(path.read_bytes()[:-3] + b'xyz')   # same size, other bytes
    again = load(onnx_file, trt)
    assert again.built and 'corrupt' in again.reason
    path.write_bytes(b'PLAN')                            # truncated
    assert 'corrupt' in load(onnx_file, trt).reason
    assert check_engine(path, again.key) == (json.loads(record_path_for(path).read_text()), '')


def test_engine_without_record_or_with_foreign_record_is_rebuilt(onnx_file):
    trt = FakeTensorRT(onnx_file)
    path = load(onnx_file, trt).path
    record_path_for(path).unlink()
    assert 'no record' in load(onnx_file, trt).reason
    record = json.loads(record_path_for(path).read_text())
    record['key']['gpu_name'] = 'Xavier'
    record_path_for(path).write_text(json.dumps(record))
    rebuilt = load(onnx_file, trt)
    assert rebuilt.built and 'gpu_name' in rebuilt.reason and 'Xavier' in rebuilt.reason
    record_path_for(path).write_text('{not json')
    assert 'unreadable' in load(onnx_file, trt).reason


def test_engine_tensorrt_refuses_is_rebuilt_and_a_bad_fresh_build_is_an_error(onnx_file):
    trt = FakeTensorRT(onnx_file)
    path = load(onnx_file, trt).path
    refusing = FakeTensorRT(onnx_file, refuse=True)
    with pytest.raises(EngineError, match='just built'):
        load(onnx_file, refusing)
    assert refusing.builds == 1            # no build loop
    calls = []

    def refuse_once(data):
        calls.append(data)
        return None if len(calls) == 1 else {'plan': data}

    rebuilt = load_or_build(onnx_file, 'fp32', SHAPE, PLATFORM, METADATA, trt.build,
                            refuse_once, log=lambda _: None)
    assert rebuilt.built and 'deserialise' in rebuilt.reason and rebuilt.path == path


def test_failed_build_leaves_no_engine(onnx_file):
    def crash():
        raise RuntimeError('out of memory')

    with pytest.raises(RuntimeError, match='out of memory'):
        load_or_build(onnx_file, 'fp32', SHAPE, PLATFORM, METADATA, crash, lambda d: d,
                      log=lambda _: None)
    assert not list(onnx_file.parent.glob('*.engine*'))
    with pytest.raises(EngineError, match='no engine'):
        load_or_build(onnx_file, 'fp32', SHAPE, PLATFORM, METADATA, lambda: b'', lambda d: d,
                      log=lambda _: None)


def test_engine_given_directly_is_checked_against_this_machine(onnx_file):
    trt = FakeTensorRT(onnx_file)
    path = load(onnx_file, trt).path
    loaded = load_engine_file(path, PLATFORM, trt.deserialize)
    assert loaded.metadata == METADATA and not loaded.built
    other = dataclasses.replace(PLATFORM, tensorrt_version='10.8.0')
    with pytest.raises(EngineError, match='tensorrt_version.*adds engine --onnx'):
        load_engine_file(path, other, trt.deserialize)
    path.write_bytes(b'garbage')
    with pytest.raises(EngineError, match='corrupt'):
        load_engine_file(path, PLATFORM, trt.deserialize)
    with pytest.raises(EngineError, match='no engine file'):
        load_engine_file(path.with_name('missing.engine'), PLATFORM, trt.deserialize)


def test_engine_cli_lists_cache_and_explains_missing_tensorrt(onnx_file, capsys):
    trt = FakeTensorRT(onnx_file)
    path = load(onnx_file, trt).path
    rows = engine_cli.cached_engines(onnx_file, PLATFORM)
    assert [(r['engine'], r['usable']) for r in rows] == [(path.name, True)]
    rows = engine_cli.cached_engines(onnx_file, dataclasses.replace(PLATFORM, gpu_name='Thor'))
    assert not rows[0]['usable'] and 'gpu_name' in rows[0]['why']
    parser = argparse.ArgumentParser()
    engine_cli.add_arguments(parser)
    args = parser.parse_args(['--onnx', str(onnx_file)])
    assert engine_cli.run(args, usable=lambda: False) == 2
    assert 'TensorRT' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='--calib'):
        engine_cli.run(parser.parse_args(['--onnx', str(onnx_file), '--precision', 'int8']),
                       usable=lambda: False)

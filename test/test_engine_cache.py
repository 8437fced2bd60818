# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Engine cache: key, validation, rebuild decisions (TensorRT faked at build/deserialise only)."""

import argparse
import dataclasses
import json
import os
import threading

import numpy as np
import pytest

from adds_ros.backends import engine_cache
from adds_ros.backends.engine_cache import (
    BuildSettings, calibration_cache_path, check_engine, EngineError, find_calibration_caches,
    load_engine_file, load_or_build, make_key, Platform, record_path_for, sha256_files)
from adds_ros.errors import UserError
from adds_ros.metadata import ModelMetadata
from adds_ros.tools import engine_cli

PLATFORM = Platform('10.3.0', 'Orin', '8.7', 16, 62841)       # AGX Orin 64 GB
SHAPE = (1, 3, 64, 128)
SETTINGS = BuildSettings('fp32', SHAPE)
METADATA = ModelMetadata(input_height=64, input_width=128)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))


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


def load(onnx_path, trt, platform=PLATFORM, settings=SETTINGS, **kwargs):
    return load_or_build(onnx_path, settings, platform, METADATA, trt.build,
                         trt.deserialize, log=lambda _: None, **kwargs)


def test_key_changes_when_any_input_changes(tmp_path, onnx_file):
    other_onnx = tmp_path / 'other.onnx'
    other_onnx.write_bytes(b'onnx-v2')
    int8 = BuildSettings('int8', SHAPE)
    base = make_key(onnx_file, int8, PLATFORM, 'calib-a')
    one, four = SHAPE, (4,) + SHAPE[1:]
    settings = [BuildSettings('fp16', SHAPE), BuildSettings('int8', (1, 3, 128, 256)),
                BuildSettings('int8', SHAPE, profile=(one, one, four)),
                BuildSettings('int8', SHAPE, workspace_mib=512),
                BuildSettings('int8', SHAPE, strongly_typed=True)]
    platforms = [dataclasses.replace(PLATFORM, **change) for change in (
        {'tensorrt_version': '10.8'}, {'gpu_name': 'RTX 4090'}, {'compute_capability': '8.9'},
        {'sm_count': 8}, {'total_memory_mib': 15389})]   # Orin NX 16 GB: same name and SM
    variants = ([make_key(other_onnx, int8, PLATFORM, 'calib-a'),
                 make_key(onnx_file, int8, PLATFORM, 'calib-b')]
                + [make_key(onnx_file, s, PLATFORM, 'calib-a') for s in settings]
                + [make_key(onnx_file, int8, p, 'calib-a') for p in platforms])
    digests = {base.digest()} | {v.digest() for v in variants}
    assert len(digests) == len(variants) + 1
    assert make_key(onnx_file, int8, PLATFORM, 'calib-a') == base
    assert make_key(onnx_file, SETTINGS, PLATFORM, 'calib-a').calibration_sha256 == ''


def test_key_rejects_bad_precision_and_uncalibrated_int8(onnx_file):
    with pytest.raises(ValueError, match='precision'):
        BuildSettings('fp64', SHAPE)
    with pytest.raises(ValueError, match='calibration'):
        make_key(onnx_file, BuildSettings('int8', SHAPE), PLATFORM)


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

    rebuilt = load_or_build(onnx_file, SETTINGS, PLATFORM, METADATA, trt.build,
                            refuse_once, log=lambda _: None)
    assert rebuilt.built and 'deserialise' in rebuilt.reason and rebuilt.path == path


def test_failed_build_leaves_no_engine(onnx_file):
    def crash():
        raise RuntimeError('out of memory')

    with pytest.raises(RuntimeError, match='out of memory'):
        load_or_build(onnx_file, SETTINGS, PLATFORM, METADATA, crash, lambda d: d,
                      log=lambda _: None)
    assert not list(onnx_file.parent.glob('*.engine')) + \
        list(onnx_file.parent.glob('*.engine.json'))
    with pytest.raises(EngineError, match='no engine'):
        load_or_build(onnx_file, SETTINGS, PLATFORM, METADATA, lambda: b'', lambda d: d,
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
    with pytest.raises(UserError, match='TensorRT and a CUDA layer'):
        engine_cli.run(args, usable=lambda: False)
    with pytest.raises(UserError, match='no ONNX model'):
        engine_cli.run(parser.parse_args(['--onnx', str(onnx_file.with_name('x.onnx'))]),
                       usable=lambda: False)


def test_a_second_builder_waits_for_the_first_and_reuses_its_engine(onnx_file):
    started, release = threading.Event(), threading.Event()
    builds = []

    def slow_build():
        builds.append(threading.current_thread().name)
        started.set()
        assert release.wait(10)
        return b'PLAN:' + onnx_file.read_bytes()

    def deserialize(data):
        return {'plan': data}

    results = {}

    def run(name, build):
        results[name] = load_or_build(onnx_file, SETTINGS, PLATFORM, METADATA, build,
                                      deserialize, log=lambda _: None)

    first = threading.Thread(target=run, args=('first', slow_build), name='first')
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=run, args=('second', slow_build), name='second')
    second.start()
    second.join(0.3)
    assert second.is_alive()                    # blocked on the lock, not building
    release.set()
    first.join(10)
    second.join(10)
    assert builds == ['first']
    assert results['first'].built and not results['second'].built
    assert results['second'].path == results['first'].path


def test_read_only_model_folder_falls_back_to_the_user_cache(tmp_path, onnx_file, monkeypatch):
    trt = FakeTensorRT(onnx_file)
    beside = load(onnx_file, trt).path               # built while the folder was writable
    models = onnx_file.parent
    real_access = os.access
    monkeypatch.setattr(engine_cache.os, 'access', lambda path, mode: (
        False if mode & os.W_OK and os.path.realpath(path) == str(models.resolve())
        else real_access(path, mode)))               # as a read-only mount does, even for root
    logs = []
    assert load_or_build(onnx_file, SETTINGS, PLATFORM, METADATA, trt.build, trt.deserialize,
                         log=logs.append).path == beside and not logs   # still used first
    other = BuildSettings('fp16', SHAPE)
    built = load_or_build(onnx_file, other, PLATFORM, METADATA, trt.build, trt.deserialize,
                          log=logs.append)
    fallback = tmp_path / 'xdg' / 'adds_ros' / 'engines'
    assert built.built and built.path.parent == fallback
    assert any('read-only' in line and str(fallback) in line for line in logs)
    again = load_or_build(onnx_file, other, PLATFORM, METADATA, trt.build, trt.deserialize,
                          log=logs.append)
    assert not again.built and again.path == built.path
    rows = engine_cli.cached_engines(onnx_file, PLATFORM)
    assert sorted(r['folder'] for r in rows) == sorted([str(models.resolve()), str(fallback)])


def test_calibration_cache_is_named_after_onnx_images_and_platform(tmp_path, onnx_file):
    onnx_sha, images_sha = 'a' * 64, 'b' * 64
    path = calibration_cache_path(tmp_path, onnx_file, onnx_sha, images_sha, PLATFORM)
    assert onnx_sha[:16] in path.name and images_sha in path.name and PLATFORM.slug() in path.name
    assert find_calibration_caches([tmp_path], onnx_file, onnx_sha, PLATFORM) == []
    path.write_bytes(b'scales')
    assert find_calibration_caches([tmp_path], onnx_file, onnx_sha, PLATFORM) == [
        (path, images_sha)]
    assert find_calibration_caches([tmp_path], onnx_file, 'c' * 64, PLATFORM) == []
    other_gpu = dataclasses.replace(PLATFORM, sm_count=8)
    assert find_calibration_caches([tmp_path], onnx_file, onnx_sha, other_gpu) == []


def test_an_unset_setting_reuses_an_engine_built_with_any_value_of_it(onnx_file):
    """Rule 4a: with the workspace left open, an engine built with 512 MiB is reused."""
    trt = FakeTensorRT(onnx_file)
    jetson = load(onnx_file, trt, settings=dataclasses.replace(SETTINGS, workspace_mib=512))
    reused = load(onnx_file, trt, open_fields=('workspace_mib',))
    assert not reused.built and trt.builds == 1
    assert reused.path == jetson.path and reused.key.workspace_mib == 512
    fp16 = dataclasses.replace(SETTINGS, precision='fp16')   # only the open field may differ
    assert load(onnx_file, trt, settings=fp16, open_fields=('workspace_mib',)).built
    exact = load(onnx_file, trt)                             # 1024 asked for: its own engine
    assert exact.built and exact.key.workspace_mib == 1024 and trt.builds == 3


# ------------------------------------------- the node with deploy.md's recipes (fake TensorRT)


class Silent:
    """The node core's transport, with one subscriber on every topic."""

    def publish(self, topic, msg):
        pass

    def subscriber_count(self, topic):
        return 1

    def publisher_count(self, topic):
        return 0


def node_backend(model, **params):
    """Configure the depth node core with its own estimator factory; return what its backend
    loaded: the engine's key, whether it was built, whether its buffers are mapped."""
    import logging

    from adds_ros.node_core import DepthNodeCore
    from adds_ros.params import NodeParams

    core = DepthNodeCore(NodeParams(model=str(model), **params), Silent(),
                         logger=logging.getLogger('test'))
    core.configure()
    backend = core.pipeline.estimators['day'].backend
    key, built, mapped = backend.cached.key, backend.cached.built, backend.mapped
    core.shutdown()
    return key, built, mapped


@pytest.fixture
def fake_jetson(monkeypatch, tmp_path):
    """Fake TensorRT 10.3 on an AGX Orin (JetPack 6) and a small depth model beside it."""
    import fake_tensorrt

    from adds_ros.testing.tiny_model import tiny_model

    trt = fake_tensorrt.install(monkeypatch, '10.3.0', [('Orin', (8, 7), 16, 64 << 30)])
    return trt, tiny_model(tmp_path / 'adds.onnx')


def test_jetson_recipe_then_the_node_builds_one_engine(fake_jetson):
    """docs/deploy.md 2b: `adds engine --precision fp16 --workspace-mib 512`, then depth_node
    with its default parameters finds that engine: one build, not two."""
    trt, model = fake_jetson
    parser = argparse.ArgumentParser()
    engine_cli.add_arguments(parser)
    assert engine_cli.run(parser.parse_args(['--onnx', str(model), '--precision', 'fp16',
                                             '--workspace-mib', '512'])) == 0
    assert len(trt.builds) == 1 and trt.builds[0]['workspace'] == 512 << 20
    key, built, _ = node_backend(model)
    assert not built and len(trt.builds) == 1
    assert (key.precision, key.workspace_mib) == ('fp16', 512)
    key, built, _ = node_backend(model, workspace_mib=512)   # said explicitly
    assert not built and len(trt.builds) == 1
    key, built, _ = node_backend(model, workspace_mib=256)   # another limit: built
    assert built and key.workspace_mib == 256 and trt.builds[-1]['workspace'] == 256 << 20


@pytest.mark.parametrize('precision', ['fp32', 'fp16'])
def test_the_nodes_precision_reaches_the_backend(fake_jetson, precision):
    """Auto would pick fp16 on an Orin: fp32 must come from the parameter."""
    trt, model = fake_jetson
    key, built, _ = node_backend(model, precision=precision)
    assert built and key.precision == precision
    assert trt.builds[-1]['flags'] & {'FP16', 'INT8'} == ({'FP16'} if precision == 'fp16'
                                                          else set())


def test_the_nodes_calibration_parameter_reaches_the_backend(fake_jetson, tmp_path):
    import cv2

    trt, model = fake_jetson
    images = tmp_path / 'frames'
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f'{i}.png'),
                    np.random.default_rng(i).integers(0, 256, (48, 80, 3), np.uint8))
    key, built, _ = node_backend(model, precision='int8', calib=str(images))
    assert built and key.precision == 'int8' and key.calibration_sha256 == sha256_files(
        sorted(images.iterdir()))
    with pytest.raises(RuntimeError, match='--calib: no images'):
        node_backend(model, precision='int8', calib=str(tmp_path / 'none'))


def test_builder_parameters_on_a_backend_without_a_builder_are_refused(tmp_path):
    from adds_ros.estimator import DepthEstimator
    from adds_ros.testing.tiny_model import tiny_model

    model = tiny_model(tmp_path / 'adds.onnx')
    with pytest.raises(UserError, match='onnxruntime backend takes no workspace_mib'):
        DepthEstimator(model, backend='onnxruntime', device='cpu', workspace_mib=512)


def test_the_nodes_mapped_memory_parameter_reaches_the_backend(fake_jetson):
    """auto: mapped (zero-copy) buffers on the integrated Orin; off: page-locked + copies."""
    _, model = fake_jetson
    assert node_backend(model)[2] is True
    assert node_backend(model, mapped_memory='off')[2] is False

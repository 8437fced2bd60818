# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The batch runner on a real local Ray cluster (2 CPUs), shared by the module's tests.

Ray is the optional `cluster` extra: without it these tests are skipped with that reason.
"""


import pytest

from adds_training.tools import batch
from batch_fixtures import (assert_same_as_one_at_a_time, depth_job, kill_mid_bag_and_check,
                            make_bags, one_at_a_time, slow_model)
from batch_jobs import UnloadableJob

ray = pytest.importorskip('ray', reason='needs Ray (pip install .[cluster])')
SIZE = (96, 128)


@pytest.fixture(scope='module')
def cluster():
    """One Ray instance for the module (starting one costs seconds), with one declared GPU.

    The GPU is a resource Ray only counts (no CUDA is used): it shows that workers sharing it
    are placed with fractional requests.
    """
    # address='local': a new instance even where an earlier `ray start` left its cluster file
    # in /tmp/ray (joining that would refuse num_cpus / num_gpus)
    ray.init(address='local', num_cpus=2, num_gpus=1, include_dashboard=False,
             log_to_driver=False)
    yield ray.cluster_resources()
    ray.shutdown()


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp('batch_ray')
    bags = make_bags(root, [40, 3, 4, 3], SIZE)
    model = slow_model(root / 'slow.onnx', SIZE)
    return bags, model, one_at_a_time(bags, root / 'sequential', model)


@pytest.mark.slow
def test_ray_actors_equal_one_at_a_time_and_hold_one_model_each(cluster, scene, tmp_path):
    assert (cluster['CPU'], cluster['GPU']) == (2, 1)
    bags, model, reference = scene
    cfg = batch.BatchConfig(manifest=tmp_path / 'manifest.json', jobs=2, gpus=1, ray='auto')
    report = batch.run_batch(depth_job(model), batch.tasks_into(bags, tmp_path / 'out'), cfg)
    assert report.ok and report.frames == 50
    assert_same_as_one_at_a_time(tmp_path / 'out', bags, reference)
    records = report.records.values()
    workers = {r['worker']['pid'] for r in records}
    assert len(workers) == 2  # two actors (half a GPU each) served four bags, one model each
    assert sum(r['counts']['models_loaded'] for r in records) == 2
    assert ray.is_initialized()  # the runner leaves a cluster it did not start running


@pytest.mark.slow
def test_a_killed_ray_worker_costs_a_retry_not_a_partial_output(cluster, scene, tmp_path):
    bags, model, reference = scene
    out = tmp_path / 'out'
    cfg = batch.BatchConfig(manifest=out / 'manifest.json', jobs=2, ray='auto')
    kill_mid_bag_and_check(bags, model, reference, cfg, out)


@pytest.mark.slow
def test_a_ray_worker_that_cannot_load_the_job_is_one_clear_error(cluster, tmp_path):
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'a').write_text('a')
    cfg = batch.BatchConfig(manifest=tmp_path / 'm.json', ray='auto')
    with pytest.raises(batch.UserError, match='a batch worker could not start: '):
        batch.run_batch(UnloadableJob(), batch.tasks_into([tmp_path / 'in' / 'a'], tmp_path), cfg)
    assert ray.is_initialized()

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
from pathlib import Path

import pytest

from adds_ros.params import NodeParams, load_params_file, parameter_table

CONFIG = Path(__file__).resolve().parents[1] / 'config'


def test_every_parameter_has_a_description_and_a_valid_default():
    names = set()
    for name, default, description, limits, choices in parameter_table():
        names.add(name)
        assert description
        if limits:
            assert limits[0] <= default <= limits[1], name
        if choices:
            assert default in choices, name
    assert {'model', 'night_model', 'backend', 'scale_mode', 'camera_height',
            'input_reliability', 'output_reliability'} <= names


@pytest.mark.parametrize('values,message', [
    ({'backend': 'cuda'}, "'backend' = 'cuda' is not one of"),
    ({'camera_height': 50.0}, "'camera_height' = 50.0 is outside"),
    ({'input_depth': 1.5}, "'input_depth' must be <class 'int'>"),
    ({'compressed': 'yes'}, "'compressed' must be <class 'bool'>"),
    ({'night_below': 0.5, 'day_above': 0.4}, 'night_below < day_above'),
    ({'image_topic': 'x'}, r"unknown parameter\(s\) \['image_topic'\]"),
])
def test_invalid_values_name_the_parameter(values, message):
    with pytest.raises(ValueError, match=message):
        NodeParams.from_dict(dict(model='m.onnx', **values))


def test_integers_are_accepted_for_float_parameters():
    assert NodeParams.from_dict({'model': 'm', 'camera_height': 2}).camera_height == 2.0


def test_shipped_params_files_load_and_validate():
    for name in ('depth.yaml', 'robotcar.yaml'):
        values = load_params_file(CONFIG / name)
        values['model'] = 'model.onnx'
        params = NodeParams.from_dict(values)
        # sensor-data QoS: matches the best-effort topics `ros2 bag play` offers (docs/bags.md)
        assert (params.input_reliability, params.input_depth) == ('best_effort', 5)
    assert load_params_file(CONFIG / 'robotcar.yaml')['camera_height'] > 0


def test_params_file_sections_and_errors(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    backend: torch\n'
                    'depth_node:\n  ros__parameters:\n    backend: onnxruntime\n'
                    'other_node:\n  ros__parameters:\n    backend: tensorrt\n')
    assert load_params_file(path) == {'backend': 'onnxruntime'}
    path.write_text('/**:\n  backend: torch\n')
    with pytest.raises(ValueError, match='has no ros__parameters'):
        load_params_file(path)
    with pytest.raises(FileNotFoundError):
        load_params_file(tmp_path / 'missing.yaml')


def test_the_large_data_profile_is_given_unless_the_user_chose_one():
    from adds_ros.resources import FASTDDS_PROFILE, large_data_environment

    profile = large_data_environment({})[FASTDDS_PROFILE]
    assert Path(profile) == CONFIG / 'fastdds_large_data.xml'
    assert '<segment_size>67108864</segment_size>' in Path(profile).read_text()
    assert large_data_environment({FASTDDS_PROFILE: '/mine.xml'}) == {}
    assert large_data_environment({FASTDDS_PROFILE: ''}) == {}  # empty: Fast DDS defaults

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""adds_ros: the ROS 2 runtime package plus the offline training package adds_training."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'adds_ros'

# Every Python dependency is declared here, once, split by use: two installs from one repository.
# The vehicle's `pip install .` is RUNTIME only (the node, `adds node`, `adds engine`; extra
# `ros` without ROS 2, `tensorrt` on GPUs): no PyTorch. The workstation adds `train` (the
# adds_training half); package.xml splits its rosdep keys the same way (exec / test), which
# test/test_package_xml.py checks. ROS 2 Humble ships numpy 1.21, so numpy 1.x and 2.x are
# both supported. PyTorch is pinned to a release that installs as a CPU build on machines
# without a GPU (and as a CUDA build where pip finds one).
RUNTIME = [
    'numpy>=1.21,<3',
    'opencv-python-headless>=4.5,<6',
    'onnxruntime>=1.16,<2',
    'PyYAML>=5.4,<7',
    'tqdm>=4.60,<5',
]
# ROS 2 itself as wheels (Kilted, Fast DDS) for machines without a ROS 2 installation: the
# real rclpy and message packages. Not in 'all': on a ROS 2 system they would shadow the
# sourced installation, so scripts/setup.sh adds them only where no ROS 2 is sourced.
ROS_WHEELS = [
    'ros-kilted-rclpy[fastrtps]>=9.1,<10',
    'ros-kilted-sensor-msgs>=5.5,<6',
    'ros-kilted-std-msgs>=5.5,<6',
    'ros-kilted-builtin-interfaces>=2.3,<3',
    'ros-kilted-diagnostic-msgs>=5.5,<6',
    'ros-kilted-lifecycle-msgs>=2.3,<3',
    'ros-kilted-rcl-interfaces>=2.3,<3',
]
EXTRAS = {
    # Offline side: training, CycleGAN, evaluation, export, bag tools.
    'train': [
        'torch==2.13.0',
        'onnx>=1.14,<2',
        'onnxscript>=0.2,<1',
        'tensorboard>=2.12,<3',
        'rosbags>=0.11,<1',  # 0.11 reads an .mcap or .db3 without metadata.yaml
        'mcap>=1.1,<2',
    ],
    'test': [
        'pytest>=7,<10',
        'flake8>=5,<8',
        'pydocstyle>=6,<7',
        'psutil>=5.9,<8',
        'colcon-common-extensions>=0.3,<1',
        'mcap-ros2-support>=0.5,<1',  # a foreign MCAP writer for the bag tests
    ],
}
EXTRAS['test'] += EXTRAS['train']  # the tests exercise the training half too
# Ray, for `--ray` of the many-input commands (bag-depth, prepare, gt, cyclegan translate) on
# a cluster (docs/bags.md); imported only when asked for, the local pool needs nothing extra.
EXTRAS['cluster'] = ['ray>=2.9,<3']
EXTRAS['all'] = sorted({req for reqs in EXTRAS.values() for req in reqs})
# TensorRT comes from JetPack or NVIDIA's index; this is its CUDA layer: 12.x and 13.x are
# supported (handles converted as 13 asks, adds_ros/backends/cuda_layer.py). Its major must be
# the driver's CUDA major: 12 on JetPack 6 (docs/deploy.md). Not in 'all': for GPU machines.
EXTRAS['tensorrt'] = ['cuda-python>=12,<14']
EXTRAS['ros'] = ROS_WHEELS

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=(find_packages(include=[PACKAGE, PACKAGE + '.*'])
              + ['adds_training' + ('.' + p if p else '')
                 for p in [''] + find_packages('training')]),
    package_dir={'adds_training': 'training'},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.xml')),
    ],
    python_requires='>=3.10',
    install_requires=RUNTIME,
    extras_require=EXTRAS,
    zip_safe=True,
    maintainer='adds_ros developers',
    maintainer_email='adds-ros@example.com',
    description='All-day self-supervised monocular depth (ADDS) for ROS 2 vehicles',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'adds = adds_ros.cli:main',
            'depth_node = adds_ros.depth_node:main',
        ],
        # each half registers its own `adds` sub-commands (adds_ros/cli.py)
        'adds_ros.commands': ['training = adds_training.commands'],
        # the training half runs .pt checkpoints for the runtime's estimator
        'adds_ros.backends': ['torch = adds_training.torch_backend:TorchBackend'],
    },
)

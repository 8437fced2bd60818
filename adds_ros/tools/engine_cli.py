# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds engine`: build (or reuse) the cached TensorRT engine of an ONNX model.

The engine lands beside the ONNX file (or, when that folder is read-only, in the per-user
engine cache) under a name that carries its cache key (see `adds_ros.backends.engine_cache`);
the node finds and validates it by itself when given the .onnx file and the same precision
('auto' resolves the same way here and in the node), so building ahead of time only saves the
minutes of the first start. `--list` shows the engines already cached for a model and whether
each is valid on this machine.
"""

import argparse
import json
import logging
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Callable, List, Optional

from adds_ros import cli_config
from adds_ros.backends import tensorrt_usable
from adds_ros.backends.engine_cache import (
    check_engine, Platform, read_record, search_folders)
from adds_ros.backends.tensorrt_backend import current_platform, TensorRTBackend
from adds_ros.errors import UserError
from adds_ros.precision import REQUESTS
from adds_ros.settings import check, param

LOGGER = logging.getLogger(__name__)


def cached_engines(onnx_path: Path, platform: Optional[Platform] = None) -> List[dict]:
    """Describe each engine cached for `onnx_path`: file, key, and why it is unusable (if)."""
    onnx_path = Path(onnx_path)
    rows = []
    for folder in search_folders(onnx_path):
        for engine in sorted(folder.glob(f'{onnx_path.stem}.*.engine')):
            record, why = read_record(engine)
            if record is not None:
                _, why = check_engine(engine, platform=platform)
            rows.append({'engine': engine.name, 'folder': str(folder),
                         'key': (record or {}).get('key'), 'usable': not why, 'why': why})
    return rows


@dataclass
class EngineConfig:
    """`adds engine`'s options; `adds parity` declares its precision and calib with these."""

    onnx: Path = param(MISSING, 'model exported by adds export')
    precision: str = param('auto', 'TensorRT precision; auto: fp16 where TensorRT and the GPU '
                           'do it fast, else fp32 (check fp16/int8 against fp32 with `adds '
                           'parity` first)', choices=REQUESTS)
    calib: Optional[Path] = param(None, 'folder of camera images for INT8 calibration '
                                  '(optional when a calibration cache for this model and GPU '
                                  'exists)')
    device: str = param('cuda:0', 'GPU to build for (cuda[:N])')
    max_batch: int = param(1, 'largest batch for a --dynamic-batch ONNX export', (1, 4096))
    workspace_mib: int = param(1024, 'builder workspace (lower it on small Jetsons)',
                               (1, 1 << 20))
    rebuild: bool = param(False, 'rebuild even a valid engine')
    list: bool = param(False, 'only list cached engines beside the ONNX file and their state')

    def __post_init__(self) -> None:
        check(self, 'option')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_config.add_options(parser, EngineConfig)


def run(args: argparse.Namespace, usable: Callable[[], bool] = tensorrt_usable) -> int:
    try:
        config = cli_config.build(EngineConfig, args)
    except ValueError as err:
        raise UserError(str(err)) from None
    if not config.onnx.is_file():
        raise UserError(f'no ONNX model at {config.onnx}')
    if config.list:
        platform = None
        if usable():
            platform = current_platform(int(config.device.partition(':')[2] or 0))
        print(json.dumps(cached_engines(config.onnx, platform), indent=1))
        return 0
    if not usable():
        raise UserError('TensorRT and a CUDA layer (cuda-python or pycuda) are not importable '
                        'here, or no GPU is present: engines are built on the machine that runs '
                        'them (see docs/deploy.md)')
    backend = TensorRTBackend(config.onnx, device=config.device, precision=config.precision,
                              calib=config.calib, max_batch=config.max_batch,
                              rebuild=config.rebuild, workspace_mib=config.workspace_mib,
                              log=LOGGER.info)
    try:
        cached = backend.cached
        state = f'built ({cached.reason})' if cached.built else 'valid cached engine reused'
        print(f'{cached.path}: {state}')
    finally:
        backend.close()
    return 0

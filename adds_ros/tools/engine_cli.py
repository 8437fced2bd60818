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
from pathlib import Path
from typing import Callable, List, Optional

from adds_ros.backends import tensorrt_usable
from adds_ros.backends.engine_cache import (
    check_engine, Platform, read_record, search_folders)
from adds_ros.errors import UserError
from adds_ros.precision import REQUESTS

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--onnx', required=True, type=Path, help='model exported by adds export')
    parser.add_argument('--precision', choices=REQUESTS, default='auto',
                        help='engine precision; auto: fp16 where TensorRT and the GPU do it '
                             'fast, else fp32 (check fp16/int8 with `adds parity` first)')
    parser.add_argument('--calib', type=Path,
                        help='folder of camera images for INT8 calibration (optional when a '
                             'calibration cache for this model and GPU exists)')
    parser.add_argument('--device', default='cuda:0', help='GPU to build for (cuda[:N])')
    parser.add_argument('--max-batch', type=int, default=1,
                        help='largest batch for a --dynamic-batch ONNX export')
    parser.add_argument('--workspace-mib', type=int, default=1024,
                        help='builder workspace (lower it on small Jetsons)')
    parser.add_argument('--rebuild', action='store_true', help='rebuild even a valid engine')
    parser.add_argument('--list', action='store_true',
                        help='only list cached engines beside the ONNX file and their state')


def run(args: argparse.Namespace, usable: Callable[[], bool] = tensorrt_usable) -> int:
    if not args.onnx.is_file():
        raise UserError(f'no ONNX model at {args.onnx}')
    if args.list:
        platform = None
        if usable():
            from adds_ros.backends.tensorrt_backend import current_platform
            platform = current_platform(int(args.device.partition(':')[2] or 0))
        print(json.dumps(cached_engines(args.onnx, platform), indent=1))
        return 0
    if not usable():
        raise UserError('TensorRT and a CUDA layer (cuda-python or pycuda) are not importable '
                        'here, or no GPU is present: engines are built on the machine that runs '
                        'them (see docs/deploy.md)')
    from adds_ros.backends.tensorrt_backend import TensorRTBackend

    backend = TensorRTBackend(args.onnx, device=args.device, precision=args.precision,
                              calib=args.calib, max_batch=args.max_batch, rebuild=args.rebuild,
                              workspace_mib=args.workspace_mib, log=LOGGER.info)
    try:
        cached = backend.cached
        state = f'built ({cached.reason})' if cached.built else 'valid cached engine reused'
        print(f'{cached.path}: {state}')
    finally:
        backend.close()
    return 0

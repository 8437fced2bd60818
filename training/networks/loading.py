# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Networks from weights: `load_depth_net`, the one loader evaluation and export use.

The checkpoint format itself (write, read, validate) is `adds_training.checkpoint`'s; this
module builds the `ADDSModel` its weights fit. `load_depth_net` also reads the authors' (and
Monodepth2's) Monodepth2-style folders.
"""

import dataclasses
import os
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_ros.settings import param
from adds_training.checkpoint import file_hash, FORMAT, load_checkpoint
from adds_training.networks import NORMALISATIONS

from .adds import ADDSModel, check_domain, DepthNet, DOMAINS, ModelConfig, use_image_statistics
from .reference_import import import_reference_checkpoint

PathLike = Union[str, os.PathLike]


def _model_config(config: Mapping[str, Any], path: Path) -> ModelConfig:
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    values = {k: v for k, v in dict(config.get('model', {})).items() if k in fields}
    values['pretrained_path'] = None   # the checkpoint holds every weight
    try:
        return ModelConfig(**values)
    except (TypeError, ValueError) as err:
        raise UserValueError(f'{path}: the checkpoint\'s model config is invalid: {err}') \
            from None


def load_model(path: PathLike) -> Tuple[ADDSModel, Dict[str, Any]]:
    """Load an `ADDSModel` from a project checkpoint file or a reference folder."""
    path = Path(path)
    if path.is_dir():
        files = [path / f for f in ('encoder.pth', 'depth.pth')]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise UserValueError(f'{path}: a checkpoint folder needs encoder.pth and depth.pth '
                                 f'(Monodepth2 layout); {" and ".join(missing)} missing')
        model, report = import_reference_checkpoint(path)
        info = {'format': 'monodepth2-folder', 'source': file_hash(files),
                'height': report.metadata.get('height'), 'width': report.metadata.get('width'),
                'report': report.to_dict()}
        return model.eval(), info
    if not path.is_file():
        raise UserFileNotFoundError(f'{path}: no such checkpoint file or folder')
    checkpoint = load_checkpoint(path)
    model = ADDSModel(_model_config(checkpoint['config'], path))
    try:
        model.load_state_dict(checkpoint['model'])
    except RuntimeError as err:  # keys or shapes that do not fit the stored model config
        lines = str(err).splitlines()  # 'Error(s) in loading ...', then one line per problem
        raise UserValueError(f'{path}: the weights do not fit the checkpoint\'s model config: '
                             f'{lines[-1].strip()[:200]}') from None
    meta = checkpoint.get('meta', {})
    info = {'format': FORMAT, 'source': file_hash([path]), 'height': meta.get('height'),
            'width': meta.get('width'), 'meta': meta, 'report': None}
    return model.eval(), info


@dataclass
class LoadOptions:
    """What `load_depth_net` takes, declared once for the commands that load a network.

    `adds eval` and `adds export` take these fields as their options (`settings.same_as`).
    """

    checkpoint: Path = param(MISSING, "project checkpoint (.pt/.pth) or an authors' "
                                      'Monodepth2-style folder (encoder.pth + depth.pth)')
    domain: str = param('day', "stem of a per-domain (authors') checkpoint", choices=DOMAINS)
    normalisation: Optional[str] = param(None, "BatchNorm statistics at test time (default: "
                                               "the checkpoint's; docs/model.md, \"Domain "
                                               'batches")', choices=NORMALISATIONS)


def load_depth_net(path: PathLike, domain: str = 'day', normalisation: Optional[str] = None
                   ) -> Tuple[DepthNet, Dict[str, Any]]:
    """Load the depth network (eval mode) and its info.

    info: height, width, stem, source, format, report, normalisation. `domain` matters only
    for a per-domain stem (the authors' checkpoints). `normalisation` ('running' |
    'per_image', `use_image_statistics`) defaults to the checkpoint's `meta['normalisation']`,
    else 'running'.
    """
    model, info = load_model(path)
    normalisation = normalisation or (info.get('meta') or {}).get('normalisation', 'running')
    if normalisation not in NORMALISATIONS:
        raise UserValueError(f'normalisation must be one of {NORMALISATIONS}, got '
                             f'{normalisation!r}')
    net = model.depth_net(check_domain(domain))
    if normalisation == 'per_image':
        use_image_statistics(net)
    info['normalisation'] = normalisation
    report = info['report']
    if report:
        needed = ('invariant.encoder.', 'depth_decoder.',
                  'invariant.night_' if net.stem == 'night' else 'invariant.encoder.')
        missing = [k for k in report['uninitialised_model_keys'] if k.startswith(needed)]
        if missing:
            raise ValueError(f'{path} lacks weights of the depth network: {missing[:5]} '
                             f'({len(missing)} in all)')
    info['stem'] = net.stem
    return net.eval(), info

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Calibrate and measure the per-frame illumination estimate of `adds_ros.domain`.

Ground truth comes from the synthetic world (docs/synthetic.md): every day frame has an exact
night twin (same view, same surfaces, night light), and the night folders are other streets.
The renderer has no dusk, so *dusk* is a cross-fade of a day frame and its twin in linear light,
`w day + (1 - w) night`; *exposure* is a camera gain in linear light (what auto-exposure does).

- `calibrate(root)`: the logistic weights of `adds_ros.domain.daylight`, fitted on `day_train`
  (day) and `day_train_fake_night` (night) under gains 0.7, 1 and 1.4 and a grey-world white
  balance (`awb`).
- `illumination_study(root, out)`: accuracy per folder and camera condition of the old signal
  (mean luma against the selector's first-frame threshold, the middle of the defaults
  0.25 / 0.35 it had) and of `daylight` (> 0.5); daylight and luma along the dusk
  cross-fade; and drives through the stateful `DomainSelector` (day streets then night
  streets and back): frames spent in the wrong domain with the old defaults and the new ones.
"""

import json
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from adds_ros.atomic import write_text_atomic
from adds_ros.domain import (
    DAYLIGHT_BIAS, DAYLIGHT_WEIGHTS, daylight, DomainConfig, DomainSelector, illumination,
    image_statistics)
from adds_training.data import layout

CONDITIONS = ('gain 0.5', 'gain 0.7', 'gain 1', 'gain 1.4', 'gain 2', 'awb')
CALIBRATION = ('gain 0.7', 'gain 1', 'gain 1.4', 'awb')
FADES = tuple(np.round(np.linspace(0, 1, 11), 2))
OLD_LUMA = DomainConfig(night_below=0.25, day_above=0.35)   # the node's defaults until now
# folder -> is it day?
FOLDERS = {'day_train': True, 'day_train_fake_night': False, 'day_val': True,
           'day_val_fake_night': False, 'day_test': True, 'day_test_fake_night': False,
           'night_val': False, 'night_test': False}


def folder_frames(root: Path, folder: str) -> List[np.ndarray]:
    """Every frame of a folder (sorted), RGB uint8."""
    return [layout.read_rgb(path) for path in sorted((Path(root) / folder).glob('*.png'))
            if not path.name.startswith('.')]


def to_linear(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / 255.0) ** 2.2


def to_rgb(linear: np.ndarray) -> np.ndarray:
    return np.round(np.clip(linear, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)


def gained(rgb: np.ndarray, gain: float) -> np.ndarray:
    """Return the frame as a camera with `gain` times the exposure would record it."""
    return rgb if gain == 1.0 else to_rgb(to_linear(rgb) * gain)


def grey_world(rgb: np.ndarray) -> np.ndarray:
    """Return the frame after a grey-world white balance (equal linear channel means)."""
    linear = to_linear(rgb)
    means = np.maximum(linear.reshape(-1, 3).mean(axis=0), 1e-6)
    return to_rgb(linear * (means.mean() / means))


def camera(rgb: np.ndarray, condition: str) -> np.ndarray:
    """Return the frame under a camera condition: 'gain G' or 'awb' (white balance)."""
    return grey_world(rgb) if condition == 'awb' else gained(rgb, float(condition.split()[1]))


def fade(day: np.ndarray, night: np.ndarray, w: float) -> np.ndarray:
    """Dusk stand-in: `w` of the day light plus `1 - w` of the night light, in linear light."""
    return to_rgb(w * to_linear(day) + (1 - w) * to_linear(night))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3,
                 steps: int = 50) -> Tuple[np.ndarray, float]:
    """Weights and bias of a logistic regression (Newton's method, small L2 on the weights)."""
    a = np.c_[x, np.ones(len(x))]
    theta = np.zeros(a.shape[1])
    penalty = np.diag([l2] * x.shape[1] + [0.0]) * len(x)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(a @ theta, -50, 50)))
        gradient = a.T @ (p - y) + penalty @ theta
        hessian = (a * (p * (1 - p))[:, None]).T @ a + penalty
        theta -= np.linalg.solve(hessian + 1e-9 * np.eye(len(theta)), gradient)
    return theta[:-1], float(theta[-1])


def calibrate(root: Path) -> Tuple[np.ndarray, float]:
    """Fit `daylight`'s weights on the training streets by day and their night twins."""
    x, y = [], []
    for folder in ('day_train', 'day_train_fake_night'):
        for rgb in folder_frames(root, folder):
            for condition in CALIBRATION:
                x.append(image_statistics(camera(rgb, condition)))
                y.append(float(FOLDERS[folder]))
    return fit_logistic(np.array(x), np.array(y))


def accuracy(frames: Iterable[np.ndarray], is_day: bool, weights, bias) -> Dict[str, float]:
    """Share of frames each signal puts on the right side of its threshold."""
    middle = (OLD_LUMA.night_below + OLD_LUMA.day_above) / 2
    luma, light = [], []
    for rgb in frames:
        luma.append((illumination(rgb) >= middle) == is_day)
        light.append((daylight(rgb, weights, bias) > 0.5) == is_day)
    return {'luma': float(np.mean(luma)), 'daylight': float(np.mean(light))}


def drive(frames: Sequence[np.ndarray], truth: Sequence[str], signal, config: DomainConfig
          ) -> int:
    """Frames the stateful selector spends in the wrong domain over one drive."""
    selector = DomainSelector(config)
    return sum(selector.update(signal(rgb)) != t for rgb, t in zip(frames, truth))


def illumination_study(root: Path, out: Path, stored: bool = False) -> str:
    """Calibrate, measure, write illumination.json / illumination.md; return the markdown.

    `stored`: measure `adds_ros.domain`'s own weights instead of fitting new ones (a dataset
    without training streets, e.g. a harder night of the same test streets).
    """
    root, out = Path(root), Path(out)
    weights, bias = (np.array(DAYLIGHT_WEIGHTS), DAYLIGHT_BIAS) if stored else calibrate(root)
    frames = {f: folder_frames(root, f) for f in FOLDERS if (root / f).is_dir()}
    result = {'weights': weights.tolist(), 'bias': bias, 'accuracy': {}, 'dusk': {},
              'drives': {}}
    for folder, images in frames.items():
        result['accuracy'][folder] = {
            condition: accuracy((camera(rgb, condition) for rgb in images), FOLDERS[folder],
                                weights, bias)
            for condition in CONDITIONS}
    pairs = list(zip(frames['day_test'], frames['day_test_fake_night']))
    for w in FADES:
        faded = [fade(day, night, w) for day, night in pairs]
        result['dusk'][str(w)] = {
            'luma': float(np.mean([illumination(f) for f in faded])),
            'daylight': float(np.mean([daylight(f, weights, bias) for f in faded]))}
    day, night = frames['day_test'], frames['night_test']
    signals = {'luma, old defaults 0.25 / 0.35': (illumination, OLD_LUMA),
               'daylight, new defaults 0.3 / 0.7': (
                   lambda rgb: daylight(rgb, weights, bias), DomainConfig())}
    for name, (signal, config) in signals.items():
        result['drives'][name] = {
            'day then night': drive(day + night, ['day'] * len(day) + ['night'] * len(night),
                                    signal, config),
            'night then day': drive(night + day, ['night'] * len(night) + ['day'] * len(day),
                                    signal, config),
            'frames': len(day) + len(night)}
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / 'illumination.json', json.dumps(result, indent=1) + '\n')
    text = illumination_tables(result)
    write_text_atomic(out / 'illumination.md', text)
    return text


def illumination_tables(result: dict) -> str:
    """Markdown: accuracy per folder and gain, the dusk sweep, the drives."""
    conditions = list(next(iter(result['accuracy'].values())))
    lines = [f'daylight weights {np.round(result["weights"], 4).tolist()}, bias '
             f'{result["bias"]:.4f}', '',
             '| folder | truth | ' + ' | '.join(f'{c}: luma / daylight' for c in conditions)
             + ' |', '|---|---|' + '---|' * len(conditions)]
    for folder, per_condition in result['accuracy'].items():
        lines.append(f'| {folder} | {"day" if FOLDERS[folder] else "night"} | ' + ' | '.join(
            f'{r["luma"]:.3f} / {r["daylight"]:.3f}' for r in per_condition.values()) + ' |')
    lines += ['', '| day share w | ' + ' | '.join(result['dusk']) + ' |',
              '|---' * (len(result['dusk']) + 1) + '|']
    for key in ('luma', 'daylight'):
        lines.append(f'| {key} | ' + ' | '.join(
            f'{v[key]:.3f}' for v in result['dusk'].values()) + ' |')
    lines += ['', '| selector | day then night: wrong frames | night then day: wrong frames |',
              '|---|---|---|']
    for name, r in result['drives'].items():
        lines.append(f'| {name} | {r["day then night"]} of {r["frames"]} | '
                     f'{r["night then day"]} of {r["frames"]} |')
    return '\n'.join(lines) + '\n'

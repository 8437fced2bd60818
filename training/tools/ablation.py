# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The issue-19 ablation on the synthetic world, resumable, N runs side by side.

The command line (`adds ablate`) is in ablate_command.py.

Runs (`RUN_GROUPS`): Monodepth2 day-only, Monodepth2 + CycleGAN twins, ADDS with CycleGAN and
with exact twins (every seed); Monodepth2 + exact twins, ADDS without each auxiliary term and
ADDS with the reference loss balance (first seed). Every run is `adds train` with
`config/train_synthetic.yaml` at one resolution and step count, model selection on the
validation streets (`val_day` + `val_night`, never a test split), then `adds eval` of the
selected checkpoint on the test streets with a metric scale fitted on `val_day`.

Each run lives in `<out>/runs/<run id>/`; rerunning the command resumes an interrupted
training exactly (`last.pt`) and skips finished runs (`row.json`), so an ablation may span
sessions. Rows are merged into `--results` (JSON) and a mean / spread table into `--table`
(between `<!-- ablation:begin -->` and `<!-- ablation:end -->` if the file has those marks).
`--prepare` renders the world and builds the CycleGAN-twin root first when they are missing.
"""

import fnmatch
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserError
from adds_ros.resources import config_file

LOGGER = logging.getLogger(__name__)
CONFIG = config_file('train_synthetic.yaml')
PROTOCOLS = ('full40', 'full40_metric')
SPLITS = {'day': 'test_day', 'night': 'test_night'}
BEGIN, END = '<!-- ablation:begin -->', '<!-- ablation:end -->'
EVAL_DIRS = {'running': 'eval', 'per_image': 'eval_per_image'}
# (column suffix, words) of the two ways every run is scored.
SCORINGS = (('', 'running statistics'), ('_per_image', 'per-image statistics'))

# name, mode, twins ('none' | 'exact' | 'cyclegan' | 'ablation'), all seeds?, config words.
# 'ablation' runs use the twins of `--ablation-twins`. ADDS runs get loss.balance=<--balance>
# unless their words set it.
RUN_GROUPS: Tuple[Tuple[str, str, str, bool, Tuple[str, ...]], ...] = (
    ('monodepth2_day', 'monodepth2', 'none', True, ()),
    ('monodepth2_cyclegan', 'monodepth2', 'cyclegan', True, ('use_fake_night=true',)),
    ('adds_cyclegan', 'adds', 'cyclegan', True, ()),
    ('adds_exact', 'adds', 'exact', True, ()),
    ('monodepth2_exact', 'monodepth2', 'exact', False, ('use_fake_night=true',)),
    ('adds_no_reconstruction', 'adds', 'ablation', False,
     ('loss.reconstruction_mse=0', 'loss.reconstruction_simse=0')),
    ('adds_no_similarity', 'adds', 'ablation', False, ('loss.similarity=0',)),
    ('adds_no_orthogonality_code', 'adds', 'ablation', False, ('loss.orthogonality_code=0',)),
    ('adds_no_orthogonality_gram', 'adds', 'ablation', False, ('loss.orthogonality_gram=0',)),
    ('adds_cyclegan_reference_balance', 'adds', 'cyclegan', False, ('loss.balance=reference',)),
    ('adds_exact_reference_balance', 'adds', 'exact', False, ('loss.balance=reference',)),
    # The shared encoder's BatchNorm sees day + night as one batch (docs/model.md, "Domain
    # batches"); the baseline with twins gets the same, so the night comparison stays fair.
    ('adds_cyclegan_joint_batch', 'adds', 'cyclegan', False,
     ('loss.balance=reference', 'domain_batch=joint')),
    ('monodepth2_cyclegan_joint_batch', 'monodepth2', 'cyclegan', False,
     ('use_fake_night=true', 'domain_batch=joint')),
    # Runs from random weights that did not learn spiked early (docs/results.md): the same
    # seeds with a linear learning-rate warm-up (docs/training.md).
    ('monodepth2_day_warmup', 'monodepth2', 'none', False, ('lr_warmup_steps=100',)),
    ('monodepth2_cyclegan_warmup', 'monodepth2', 'cyclegan', False,
     ('use_fake_night=true', 'lr_warmup_steps=100')),
    ('adds_cyclegan_reference_balance_warmup', 'adds', 'cyclegan', False,
     ('loss.balance=reference', 'lr_warmup_steps=100')),
)
# The picture's columns (`--picture`): the baselines and the ADDS + CycleGAN variants.
PICTURE_GROUPS = ('monodepth2_day', 'monodepth2_cyclegan', 'adds_cyclegan_reference_balance',
                  'adds_cyclegan_joint_batch')
# The targets: (ADDS + CycleGAN group, its Monodepth2 + CycleGAN baseline at night,
# its Monodepth2 day-only baseline by day).
TARGET_PAIRS = (('adds_cyclegan', 'monodepth2_cyclegan', 'monodepth2_day'),  # --balance
                ('adds_cyclegan_reference_balance', 'monodepth2_cyclegan', 'monodepth2_day'),
                ('adds_cyclegan_joint_batch', 'monodepth2_cyclegan_joint_batch',
                 'monodepth2_day'),
                ('adds_cyclegan_reference_balance_warmup', 'monodepth2_cyclegan_warmup',
                 'monodepth2_day_warmup'))


@dataclass(frozen=True)
class Run:
    """One training run of the ablation."""

    name: str
    mode: str
    twins: str
    seed: int
    words: Tuple[str, ...]

    @property
    def run_id(self) -> str:
        return f'{self.name}_s{self.seed}'


def run_list(seeds: Sequence[int], balance: str = 'normalised',
             ablation_twins: str = 'cyclegan', only: Sequence[str] = ()) -> List[Run]:
    """List the issue's runs; `only` keeps the groups matching one of its patterns (fnmatch).

    A first-seed group runs `seeds[0]` alone, unless `only` names it exactly: whoever types a
    group's name beside several seeds means all of them.
    """
    runs = []
    for name, mode, twins, every_seed, words in RUN_GROUPS:
        if only and not any(fnmatch.fnmatchcase(name, pattern) for pattern in only):
            continue
        twins = ablation_twins if twins == 'ablation' else twins
        if mode == 'adds' and not any(w.startswith('loss.balance=') for w in words):
            words = words + (f'loss.balance={balance}',)
        chosen = seeds if every_seed or name in only else seeds[:1]
        runs += [Run(name, mode, twins, seed, words) for seed in chosen]
    return runs


@dataclass
class Settings:
    """Everything that is the same for every run of one ablation."""

    data: Path
    cyclegan_data: Optional[Path]
    out: Path
    height: int = 128
    width: int = 256
    steps: int = 1000
    batch_size: int = 4
    val_every: Optional[int] = None      # default: steps // 10
    device: str = 'auto'
    threads: int = 1
    workers: int = 1
    grad_norm_every: int = 100
    config: Path = CONFIG

    @property
    def resolution(self) -> str:
        return f'{self.height}x{self.width}'


def root_for(run: Run, settings: Settings) -> Path:
    """Dataset root of a run: CycleGAN twins live in their own root (docs/results.md)."""
    if run.twins == 'cyclegan':
        if settings.cyclegan_data is None:
            raise UserError(f'run {run.run_id} needs --cyclegan-data (the root whose '
                            'day_train_fake_night holds CycleGAN translations)')
        return settings.cyclegan_data
    return settings.data


def train_command(run: Run, settings: Settings, run_dir: Path) -> List[str]:
    """Return the `adds train` command line of one run (resumes from run_dir/last.pt)."""
    every = settings.val_every or max(1, settings.steps // 10)
    words = [f'data_root={root_for(run, settings)}', f'out_dir={run_dir}', f'mode={run.mode}',
             f'seed={run.seed}', f'max_steps={settings.steps}', 'epochs=100000',
             f'height={settings.height}', f'width={settings.width}',
             f'batch_size={settings.batch_size}', f'val_every_steps={every}',
             f'checkpoint_every={min(every, 100)}', f'grad_norm_every={settings.grad_norm_every}',
             f'device={settings.device}', f'cpu_threads={settings.threads}',
             f'num_workers={settings.workers}', 'val_splits=[val_day,val_night]',
             'val_protocol=full40']
    return [sys.executable, '-m', 'adds_ros.cli', 'train', '--config', str(settings.config),
            *words, *run.words]


def eval_command(settings: Settings, run_dir: Path, normalisation: str = 'running'
                 ) -> List[str]:
    """Return the `adds eval` command: selected checkpoint, test streets, scale on val_day.

    Each run is scored with the running BatchNorm statistics (`eval/`) and with each image's
    own (`eval_per_image/`; docs/model.md, "Domain batches").
    """
    return [sys.executable, '-m', 'adds_ros.cli', 'eval', '--checkpoint',
            str(run_dir / 'best.pt'), '--data', str(settings.data), '--splits',
            *SPLITS.values(), '--protocols', *PROTOCOLS, '--estimate-scale', 'val_day',
            '--normalisation', normalisation, '--out', str(run_dir / EVAL_DIRS[normalisation]),
            '--device', settings.device]


def score_columns(run_dir: Path, normalisation: str) -> Dict[str, float]:
    """Read the row's Abs Rel columns from one eval report (suffix `_per_image` if so)."""
    report = run_dir / EVAL_DIRS[normalisation] / 'results.json'
    results = json.loads(report.read_text())['results']
    suffix = '' if normalisation == 'running' else f'_{normalisation}'
    return {f'{domain}_abs_rel_{protocol}{suffix}': results[split][protocol]['abs_rel']
            for domain, split in SPLITS.items() for protocol in PROTOCOLS}


def _call(command: List[str], log: Path, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY='PASSIVE')
    with open(log, 'a') as out:
        out.write(f'$ {" ".join(command)}\n')
        out.flush()
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if code:
        raise RuntimeError(f'{command[3]} failed with exit code {code}; see {log}')


def run_row(run: Run, settings: Settings, run_dir: Path, seconds: float) -> dict:
    """Build the results.json row of a finished run, read from its eval report and checkpoints."""
    import torch

    from adds_training.checkpoint import load_checkpoint

    best = load_checkpoint(run_dir / 'best.pt', map_location='cpu')
    row = {'run': run.run_id, 'group': run.name, 'mode': run.mode, 'twins': run.twins,
           'seed': run.seed, 'overrides': list(run.words), 'steps': settings.steps,
           'resolution': settings.resolution, 'batch_size': settings.batch_size,
           'selected_step': int(best['step']), 'val_abs_rel': float(best['best']),
           'metric_scale': best['meta'].get('metric_scale'), 'train_seconds': round(seconds, 1),
           'device': 'cuda' if torch.cuda.is_available() and settings.device != 'cpu'
           else 'cpu'}
    for normalisation in EVAL_DIRS:
        row.update(score_columns(run_dir, normalisation))
    return row


def execute(run: Run, settings: Settings, keep_last: bool = False) -> dict:
    """Train (or resume) and evaluate one run; a finished run is read back, not redone."""
    run_dir = settings.out / 'runs' / run.run_id
    done = run_dir / 'row.json'
    if done.exists():
        row = json.loads(done.read_text())
        if 'day_abs_rel_full40_per_image' not in row:   # a row from before per-image scores
            _call(eval_command(settings, run_dir, 'per_image'), run_dir / 'eval.log',
                  settings.threads)
            row.update(score_columns(run_dir, 'per_image'))
            write_text_atomic(done, json.dumps(row, indent=1) + '\n')
        return row
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _call(train_command(run, settings, run_dir), run_dir / 'train.log', settings.threads)
    seconds = time.perf_counter() - started
    for normalisation in EVAL_DIRS:
        _call(eval_command(settings, run_dir, normalisation), run_dir / 'eval.log',
              settings.threads)
    row = run_row(run, settings, run_dir, seconds)
    write_text_atomic(done, json.dumps(row, indent=1) + '\n')
    if not keep_last:  # the selected model is best.pt; last.pt only serves resuming
        (run_dir / 'last.pt').unlink()
    return row


def merge_rows(path: Path, rows: Sequence[dict]) -> List[dict]:
    """Merge rows into a results JSON list, replacing rows of the same run/steps/resolution."""
    def key(row: dict) -> tuple:
        return row['run'], row['steps'], row['resolution']

    old = json.loads(path.read_text()) if path.exists() else []
    merged = {key(row): row for row in old}
    merged.update({key(row): row for row in rows})
    out = sorted(merged.values(), key=lambda r: (r['resolution'], r['steps'], r['run']))
    write_text_atomic(path, json.dumps(out, indent=1) + '\n')
    return out


def _mean_spread(values: Sequence[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f'{mean:.3f}'
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f'{mean:.3f} ± {std:.3f}'


COLUMNS = (('day', 'full40'), ('night', 'full40'), ('day', 'full40_metric'),
           ('night', 'full40_metric'), ('day', 'full40_per_image'), ('night', 'full40_per_image'))


def summary_table(rows: Sequence[dict], learned_below: Optional[float] = None) -> str:
    """Markdown: mean ± sample std over seeds per run group, and the issue's two targets.

    With `learned_below`, the same again over the runs whose selected checkpoint scored below
    it on the validation streets (runs from random weights can stay near a constant depth;
    the split is made on validation, never on test, scores).
    """
    table = _group_table(rows)
    if learned_below is not None:
        learned = [r for r in rows if r['val_abs_rel'] < learned_below]
        table += (f'\nRuns that learned (selected validation Abs Rel < {learned_below:g}): '
                  f'{len(learned)} of {len(rows)}; not: '
                  + (', '.join(sorted(r['run'] for r in rows if r not in learned)) or 'none')
                  + '.\n' + ('\n' + _group_table(learned) if learned else ''))
    return table


def _group_table(rows: Sequence[dict]) -> str:
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault((row['resolution'], row['steps'], row['group']), []).append(row)
    lines = ['| run | resolution | steps | seeds | day Abs Rel | night Abs Rel | day, metric '
             '| night, metric | day, per-image | night, per-image | selected steps |',
             '|---' * 11 + '|']
    order = [g[0] for g in RUN_GROUPS]
    for (resolution, steps, group), members in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.index(kv[0][2])
                                            if kv[0][2] in order else len(order))):
        cells = [_mean_spread([m[f'{d}_abs_rel_{p}'] for m in members])
                 if all(f'{d}_abs_rel_{p}' in m for m in members) else '—' for d, p in COLUMNS]
        selected = ', '.join(str(m['selected_step']) for m in sorted(members,
                                                                     key=lambda m: m['seed']))
        lines.append(f'| {group} | {resolution} | {steps} | {len(members)} | '
                     + ' | '.join(cells) + f' | {selected} |')
    lines += ['', *target_lines(groups)]
    return '\n'.join(lines) + '\n'


def target_lines(groups: Dict[tuple, List[dict]]) -> List[str]:
    """State the issue's targets per resolution/steps: night gain ≥ 5 %, day within 2 %.

    Once with the running BatchNorm statistics and once with each image's own, every model
    scored alike (`full40`).
    """
    def mean(members: List[dict], column: str) -> float:
        return sum(m[column] for m in members) / len(members)

    lines = []
    for resolution, steps in sorted({k[:2] for k in groups}):
        for (adds, baseline, day_baseline), (suffix, scoring) in itertools.product(
                TARGET_PAIRS, SCORINGS):
            members, cyclegan, day_only = (groups.get((resolution, steps, g))
                                           for g in (adds, baseline, day_baseline))
            if not (members and cyclegan and day_only) or not all(
                    f'day_abs_rel_full40{suffix}' in m for m in members + cyclegan + day_only):
                continue
            night = 1 - (mean(members, f'night_abs_rel_full40{suffix}')
                         / mean(cyclegan, f'night_abs_rel_full40{suffix}'))
            day = mean(members, f'day_abs_rel_full40{suffix}') / mean(
                day_only, f'day_abs_rel_full40{suffix}') - 1
            seeds = min(len(members), len(cyclegan), len(day_only))
            lines.append(
                f'- {resolution}, {steps} steps, `{adds}`, {scoring}: ADDS + CycleGAN vs '
                f'Monodepth2 + CycleGAN (`{baseline}`) at night {100 * night:+.1f} % better '
                f'(target ≥ +5 %, {"met" if night >= 0.05 else "not met"}); by day '
                f'{100 * day:+.1f} % against Monodepth2 day-only (`{day_baseline}`; target '
                f'≤ +2 %, {"met" if day <= 0.02 else "not met"}). '
                f'Means over seeds (at least {seeds} each), `full40`'
                + ('; fewer than the 3 seeds the targets are stated for.' if seeds < 3
                   else '.'))
    return lines


def write_table(path: Path, table: str) -> None:
    """Replace the marked section of `path` (or write the file) with the table."""
    text = path.read_text() if path.exists() else ''
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + '\n' + table + END + rest.split(END, 1)[1]
    else:
        text = table
    write_text_atomic(path, text)


def prepare_data(settings: Settings, render: Tuple[int, int], frames: int,
                 cyclegan_steps: int) -> None:
    """Render the world and build the CycleGAN-twin root where they are missing (resumable)."""
    data, cg = settings.data, settings.cyclegan_data
    log = settings.out / 'prepare.log'
    settings.out.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, '-m', 'adds_ros.cli']
    threads = max(1, os.cpu_count() or 1)
    if not (data / 'splits' / 'test_night.txt').exists():
        _call(cli + ['synth', '--out', str(data), '--seed', '0', '--height', str(render[0]),
                     '--width', str(render[1]), '--frames', str(frames), '--sequences',
                     'train=6', 'val=1', 'test=2', 'night=3'], log, threads)
    if cg is None or (cg / 'splits' / 'train.txt').exists():
        return
    gan = settings.out / 'cyclegan'
    if not (gan / 'day2night.pt').exists():
        _call(cli + ['cyclegan', 'train', '--root', str(data), '--day-split', 'cyclegan_day',
                     '--night-split', 'cyclegan_night', '--out', str(gan), '--height',
                     str(settings.height), '--width', str(settings.width), '--ngf', '16',
                     '--ndf', '32', '--n-blocks', '6', '--epochs', '1', '--epochs-decay', '1',
                     '--max-steps', str(cyclegan_steps), '--num-workers', '0', '--device',
                     settings.device], log, threads)
    cg.mkdir(parents=True, exist_ok=True)
    for entry in sorted(Path(data).iterdir()):
        link = cg / entry.name
        if entry.name not in ('day_train_fake_night', 'splits') and not link.exists():
            link.symlink_to(entry.resolve())
    (cg / 'splits').mkdir(exist_ok=True)
    for split in sorted((Path(data) / 'splits').glob('*.txt')):  # train.txt last: "done" mark
        if split.name != 'train.txt':
            write_text_atomic(cg / 'splits' / split.name, split.read_text())
    _call(cli + ['cyclegan', 'translate', '--checkpoint', str(gan / 'day2night.pt'), '--root',
                 str(cg), '--split', 'cyclegan_day', '--device', settings.device], log, threads)
    write_text_atomic(cg / 'splits' / 'train.txt', (data / 'splits' / 'train.txt').read_text())


def comparison_picture(settings: Settings, groups: Sequence[str], seed: int,
                       splits: Sequence[str] = tuple(SPLITS.values())):
    """Draw the middle frame of each test split: input | each group's depth | ground truth.

    Each group's run `<group>_s<seed>` (its selected `best.pt`), median-scaled to the ground
    truth like `full40`, coloured on one log scale (2.5 m bright, 40 m dark) so runs compare.
    """
    import numpy as np
    import torch

    from adds_training import pictures
    from adds_training.data.datasets import EvalDataset
    from adds_training.evaluate import predict_depths
    from adds_training.metrics import get_protocol, median_ratio, prediction_to_gt_frame
    from adds_training.networks import load_depth_net

    paths = {g: settings.out / 'runs' / f'{g}_s{seed}' / 'best.pt' for g in groups}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise UserError(f'--picture needs the selected checkpoints of its runs; missing: '
                        f'{", ".join(missing)}')
    nets = {g: load_depth_net(p) for g, p in paths.items()}
    full40 = get_protocol('full40')
    rows = []
    for split in splits:
        dataset = EvalDataset(settings.data, split, settings.height, settings.width)
        middle = torch.utils.data.Subset(dataset, [len(dataset) // 2])
        loader = torch.utils.data.DataLoader(middle, batch_size=1)
        sample = middle[0]
        gt = sample['gt'].numpy()
        size = gt.shape
        rgb = (sample['image'].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        panels = [(pictures.fit(rgb, *size), f'{split} input')]
        for group, (net, info) in nets.items():
            meta = info['meta']
            _, depth, _ = next(predict_depths(net, loader, meta['min_depth'], meta['max_depth'],
                                              'cpu', group))
            depth = prediction_to_gt_frame(depth, size, dataset.gt_region())
            depth *= median_ratio(gt, depth, full40, dataset.gt_region())
            panels.append((pictures.log_depth_rgb(depth, 2.5, 40.0), group))
        panels.append((pictures.log_depth_rgb(gt, 2.5, 40.0), 'ground truth'))
        scale = pictures.panel_scale(size[1])
        rows.append([pictures.labelled(panel, label, scale) for panel, label in panels])
    return pictures.grid(rows)


def collect(futures: Dict, record: Callable[[Sequence[dict]], object]) -> List[str]:
    """Record each run's row as it finishes (a kill loses none); return the failed run ids."""
    failed = []
    for future in as_completed(futures):
        r = futures[future]
        try:
            record([future.result()])
            LOGGER.info(f'{r.run_id}: done')
        except RuntimeError as err:
            failed.append(r.run_id)
            LOGGER.error(f'{r.run_id}: {err}')
    return failed

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds ablate --decisive`: issue 24's paired experiment, resumable (plan: docs/results.md).

One day-only Monodepth2 warm start, accepted by a stated rule (`accept_warm_start`); every arm
fine-tunes from a frozen copy of it (`init_from`) for the same steps, seed by seed, on the hard
night (primary) and today's night (secondary). Each run is `adds ablate`'s (train, then
`adds eval` with running and per-image statistics); this module adds the world, the init
checkpoint's hash, the stall signal, the first step's gradient norms, every score and the
day-night invariance gap to its row, then writes the per-run table, the paired table and the
pre-registered verdict (`verdict`) into `--table` between `<!-- decisive:begin -->` and
`<!-- decisive:end -->`, and the rows into `--results`.
"""

import argparse
import ast
import json
import logging
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserError

from . import ablation
from .ablation import Run, Settings

LOGGER = logging.getLogger(__name__)
BEGIN, END = '<!-- decisive:begin -->', '<!-- decisive:end -->'
EXPERIMENT = 'decisive'
# arm -> (mode, twins, config words); the baseline warps twins with the day frames' motion.
ARMS: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    'monodepth2_cyclegan': ('monodepth2', 'cyclegan', ('use_fake_night=true', 'twin_pose=day')),
    'adds_cyclegan': ('adds', 'cyclegan', ('loss.balance=reference',)),
    'monodepth2_day': ('monodepth2', 'none', ()),
    'adds_exact': ('adds', 'exact', ('loss.balance=reference',)),
}
PRIMARY = ('monodepth2_cyclegan', 'adds_cyclegan')   # (baseline, ADDS)
REFERENCES = ('monodepth2_day', 'adds_exact')
# secondary paired contrasts (baseline, candidate): what twins buy, and what exact twins add
CONTRASTS = (('monodepth2_day', 'monodepth2_cyclegan'), ('monodepth2_day', 'adds_cyclegan'),
             ('adds_cyclegan', 'adds_exact'), ('monodepth2_cyclegan', 'adds_exact'))
WORLDS = ('hard', 'standard')                        # primary first
# Acceptance of the warm start and the stall rule of a run (docs/results.md, the plan).
WARM_MAX_VAL, SIGNAL_BAND, STALL_VAL = 0.30, (0.040, 0.070), 0.40
EFFECT = 0.05
# Two-sided 95 % quantiles of Student's t, 1..30 degrees of freedom.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


# ------------------------------------------------------------------ statistics

def t_quantile(df: int) -> float:
    """Return the 97.5 % quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError('need at least 2 values for an interval')
    return T975[df - 1] if df <= len(T975) else 1.96 + 2.4 / df


def mean_interval(values: Sequence[float]) -> Tuple[float, float, float]:
    """(mean, lower, upper) of the 95 % t-interval of the mean."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def wilcoxon_p(values: Sequence[float]) -> float:
    """Exact two-sided p of the Wilcoxon signed-rank test (zeros dropped, ties mid-ranked)."""
    nonzero = sorted((v for v in values if v != 0), key=abs)
    n = len(nonzero)
    if n == 0:
        return 1.0
    ranks2 = [0] * n  # twice the mid-ranks: integers
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(nonzero[j + 1]) == abs(nonzero[i]):
            j += 1
        for k in range(i, j + 1):
            ranks2[k] = i + j + 2
        i = j + 1
    w = sum(r for r, v in zip(ranks2, nonzero) if v > 0)
    counts = {0: 1}  # distribution of W+ (doubled) under the null: every sign equally likely
    for r in ranks2:
        nxt = dict(counts)
        for s, c in counts.items():
            nxt[s + r] = nxt.get(s + r, 0) + c
        counts = nxt
    total = 2 ** n
    low = sum(c for s, c in counts.items() if s <= w) / total
    high = sum(c for s, c in counts.items() if s >= w) / total
    return min(1.0, 2 * min(low, high))


def verdict(differences: Sequence[float], planned: int) -> Tuple[str, Optional[tuple]]:
    """Apply the pre-registered verdict to paired relative differences (+: ADDS better).

    effect: mean >= 5 % and the interval above 0; no paper-size effect: the interval within
    +-5 %; inconclusive otherwise. Fewer pairs than planned: labelled partial.
    """
    if len(differences) < 2:
        return 'not enough pairs yet', None
    mean, low, high = mean_interval(differences)
    if mean >= EFFECT and low > 0:
        word = 'effect'
    elif -EFFECT < low and high < EFFECT:
        word = 'no paper-size effect'
    else:
        word = 'inconclusive'
    if len(differences) < planned:
        word = f'{word} (partial: {len(differences)} of {planned} pairs)'
    return word, (mean, low, high)


# ------------------------------------------------------------------ runs

def world_settings(base: Settings, worlds: Path, world: str) -> Settings:
    """Return the ablation settings of one world: its exact- and CycleGAN-twin roots."""
    return replace(base, data=worlds / world / 'synth', cyclegan_data=worlds / world / 'synth_cg')


def arm_runs(seeds: Sequence[int], init: Path, aux_ramp: int,
             worlds: Sequence[str] = WORLDS) -> List[Run]:
    """Every run in the plan's order: per world, the primary pair seed by seed, then references."""
    runs = []
    for world in worlds:
        for group in (PRIMARY, REFERENCES):
            for seed in seeds:
                for arm in group:
                    mode, twins, words = ARMS[arm]
                    words = words + (f'init_from={init}',)
                    if mode == 'adds':
                        words += (f'aux_ramp_steps={aux_ramp}',)
                    runs.append(Run(f'{world}_{arm}', mode, twins, seed, words))
    return runs


def run_summary(run_dir: Path) -> dict:
    """Read the trainer's summary: summary.json, else the `done: {...}` line of train.log."""
    path = run_dir / 'summary.json'
    if path.exists():
        return json.loads(path.read_text())
    for line in reversed((run_dir / 'train.log').read_text().splitlines()):
        if line.startswith('done: '):
            return ast.literal_eval(line[len('done: '):])
    raise UserError(f'{run_dir}: no summary.json and no "done:" line in train.log')


def accept_warm_start(run_dir: Path) -> Tuple[bool, dict]:
    """Apply the plan's rule: val Abs Rel < 0.30 and the final stall signal in [0.040, 0.070]."""
    summary = run_summary(run_dir)
    val, signal = summary['best_val_abs_rel'], summary['translation_to_depth']
    ok = val is not None and val < WARM_MAX_VAL and signal is not None and \
        SIGNAL_BAND[0] <= signal <= SIGNAL_BAND[1]
    return ok, {'val_abs_rel': val, 'translation_to_depth': signal,
                'best_step': summary['best_step']}


def warm_start_command(settings: Settings, run_dir: Path, seed: int, steps: int) -> List[str]:
    """Return the day-only warm start's `adds train`: selected on val_day only (no night)."""
    run = Run('warm_start', 'monodepth2', 'none', seed, ())
    words = ablation.train_command(run, replace(settings, steps=steps, val_every=steps // 10),
                                   run_dir)
    return [w for w in words if not w.startswith('val_splits=')] + ['val_splits=[val_day]']


def invariance_gap(checkpoint: Path, root: Path, height: int, width: int,
                   normalisation: str = 'running', split: str = 'test_day') -> float:
    """Mean |(log d_day - median) - (log d_night - median)| over pixels and the split's poses.

    d_night is the prediction for the same pose's exact night render (`<folder>_fake_night`):
    0 means the relative depth does not change when only the light does.
    """
    import torch

    from adds_training.data import layout
    from adds_training.data.datasets import load_image, resolve_split
    from adds_training.geometry import disp_to_depth
    from adds_training.networks import load_depth_net

    net, info = load_depth_net(checkpoint, normalisation=normalisation)
    meta = info['meta']
    total, count = 0.0, 0
    with torch.inference_mode():
        for folder, index in resolve_split(root, split):
            images = torch.stack([load_image(path(root, folder, index), height, width)
                                  for path in (layout.frame_path, layout.fake_night_path)])
            _, depth = disp_to_depth(net(images)[0], meta['min_depth'], meta['max_depth'])
            logs = depth.log().flatten(1)
            logs = logs - logs.median(dim=1, keepdim=True).values
            total += float((logs[0] - logs[1]).abs().mean())
            count += 1
    return total / count


def full_row(run: Run, world: str, settings: Settings, row: dict,
             summary: Optional[dict] = None) -> dict:
    """Add the world, init, stall signal, first-step gradient norms, scores and gap to a row.

    `summary`: the trainer's (default: the run folder's own).
    """
    from adds_training.checkpoint import load_checkpoint

    run_dir = settings.out / 'runs' / run.run_id
    summary = summary or run_summary(run_dir)
    init = load_checkpoint(run_dir / 'best.pt')['meta'].get('init_from') or {}
    norms = summary.get('shared_grad_norms') or {}
    first = norms.get('0', norms.get(0))
    signal = summary.get('translation_to_depth')
    row = dict(row, experiment=EXPERIMENT, arm=run.name[len(world) + 1:], world=world,
               night_difficulty=world, render_size=_render_size(settings.data),
               init_from=init.get('source'), init_hash=init.get('hash'),
               init_loaded=init.get('loaded'), init_fresh=init.get('fresh'),
               translation_to_depth=signal, first_step_grad_norms=first,
               stalled=bool(row['val_abs_rel'] >= STALL_VAL
                            or (signal is not None and signal < SIGNAL_BAND[0])))
    for normalisation, folder in ablation.EVAL_DIRS.items():
        row[f'scores_{normalisation}'] = json.loads(
            (run_dir / folder / 'results.json').read_text())['results']
    row['invariance_gap_running'] = invariance_gap(run_dir / 'best.pt', settings.data,
                                                   settings.height, settings.width)
    return row


def score_warm_start(world: str, settings: Settings, warm: dict, steps: int) -> dict:
    """Score a copy of the frozen warm start on one world like an arm (its night penalty)."""
    run = Run(f'{world}_warm_start', 'monodepth2', 'none', warm['seed'], ())
    run_dir = settings.out / 'runs' / run.run_id
    done = run_dir / 'paired_row.json'
    if done.exists():
        return json.loads(done.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / 'best.pt').exists():  # eval writes its metric scale into the copy
        shutil.copyfile(warm['source'], run_dir / 'best.pt')
    for normalisation in ablation.EVAL_DIRS:
        ablation._call(ablation.eval_command(settings, run_dir, normalisation),
                       run_dir / 'eval.log', settings.threads)
    row = ablation.run_row(run, replace(settings, steps=steps), run_dir, 0.0)
    summary = run_summary(settings.out / 'warm' / f's{warm["seed"]}')
    row = full_row(run, world, settings, row, summary)
    row.update(init_from=None, init_hash=warm['hash'])  # it *is* the init
    write_text_atomic(done, json.dumps(row, indent=1) + '\n')
    return row


def _render_size(root: Path) -> List[int]:
    return json.loads((root / 'dataset.json').read_text())['image_size']


def execute(run: Run, world: str, settings: Settings) -> dict:
    """Train + evaluate one arm run (resumable; ablation.execute), then its full row."""
    done = settings.out / 'runs' / run.run_id / 'paired_row.json'
    if done.exists():
        return json.loads(done.read_text())
    row = full_row(run, world, settings, ablation.execute(run, settings))
    write_text_atomic(done, json.dumps(row, indent=1) + '\n')
    return row


# ------------------------------------------------------------------ tables

def _cell(values: Sequence[float]) -> str:
    return ablation._mean_spread(values) if values else '—'


def tables(rows: Sequence[dict], seeds: Sequence[int], warm: dict) -> str:
    """Markdown: the warm start, per-arm means, the paired table and verdict per world."""
    out = [f'Warm start: `{warm.get("source")}` ({warm.get("hash", "")[:19]}…, seed '
           f'{warm.get("seed")}), validation Abs Rel {warm.get("val_abs_rel", 0):.3f}, stall '
           f'signal {warm.get("translation_to_depth", 0):.3f}, accepted: '
           f'{warm.get("accepted")}.', '']
    for world in WORLDS:
        members = [r for r in rows if r.get('world') == world]
        if not members:
            continue
        out += [f'**{world} night** ({"primary" if world == WORLDS[0] else "secondary"})', '',
                '| arm | runs | stalled | day Abs Rel | night Abs Rel | night / day | day, '
                'per-image | night, per-image | invariance gap | first-step grad norm '
                'photometric / largest auxiliary |', '|---' * 10 + '|']
        for arm in ('warm_start', *ARMS):
            arm_rows = sorted((r for r in members if r['arm'] == arm), key=lambda r: r['seed'])
            if not arm_rows:
                continue
            col = lambda key: [r[key] for r in arm_rows]  # noqa: E731
            ratio = [r['night_abs_rel_full40'] / r['day_abs_rel_full40'] for r in arm_rows]
            out.append(f'| {arm} | {len(arm_rows)} | {sum(col("stalled"))} | '
                       f'{_cell(col("day_abs_rel_full40"))} | '
                       f'{_cell(col("night_abs_rel_full40"))} | {_cell(ratio)} | '
                       f'{_cell(col("day_abs_rel_full40_per_image"))} | '
                       f'{_cell(col("night_abs_rel_full40_per_image"))} | '
                       f'{_cell(col("invariance_gap_running"))} | {_norms(arm_rows[0])} |')
        out += ['', *paired_lines(members, len(seeds)), '']
        contrasts = contrast_lines(members)
        out += [*contrasts, ''] if contrasts else []
    return '\n'.join(out) + '\n'


def _norms(row: dict) -> str:
    norms = row.get('first_step_grad_norms') or {}
    aux = {k: v for k, v in norms.items() if k not in ('photometric', 'smoothness')}
    if not norms:
        return '—'
    largest = max(aux.items(), key=lambda kv: kv[1]) if aux else None
    return (f'{norms.get("photometric", 0):.3g} / '
            + (f'{largest[1]:.3g} ({largest[0]})' if largest else '—') + f' (seed {row["seed"]})')


def paired_differences(rows: Sequence[dict], column: str = 'night_abs_rel_full40',
                       arms: Tuple[str, str] = PRIMARY) -> List[Tuple[int, float, float, float]]:
    """(seed, baseline, candidate, relative difference) for every seed with both `arms`.

    `arms` is (baseline, candidate); positive differences: the candidate is better (lower).
    """
    by = {(r['arm'], r['seed']): r[column] for r in rows}
    base, other = arms
    seeds = sorted({s for a, s in by if a == base} & {s for a, s in by if a == other})
    return [(s, by[base, s], by[other, s], (by[base, s] - by[other, s]) / by[base, s])
            for s in seeds]


def paired_interval(rows: Sequence[dict], column: str, arms: Tuple[str, str] = PRIMARY
                    ) -> Optional[Tuple[int, float, float, float]]:
    """(pairs, mean, low, high) of the paired differences in `column`; None below two pairs."""
    differences = [d for *_, d in paired_differences(rows, column, arms)]
    return (len(differences), *mean_interval(differences)) if len(differences) >= 2 else None


def contrast_lines(rows: Sequence[dict]) -> List[str]:
    """Paired contrasts with the references (secondary): candidate better by, 95 % interval."""
    columns = ('night_abs_rel_full40', 'day_abs_rel_full40', 'night_abs_rel_full40_per_image',
               'day_abs_rel_full40_per_image')
    lines = ['| candidate vs baseline (candidate better by, paired seeds) | seeds | night | day | '
             'night, per-image | day, per-image |', '|---' * 6 + '|']
    for base, other in CONTRASTS:
        intervals = [paired_interval(rows, column, (base, other)) for column in columns]
        if None not in intervals:
            cells = [f'{100 * mean:+.1f} % ({100 * low:+.1f} to {100 * high:+.1f})'
                     for _, mean, low, high in intervals]
            lines.append(f'| {other} vs {base} | {intervals[0][0]} | {" | ".join(cells)} |')
    return lines if len(lines) > 2 else []


def paired_lines(rows: Sequence[dict], planned: int) -> List[str]:
    """Return the paired table (test-night Abs Rel, running statistics) and the verdict."""
    pairs = paired_differences(rows)
    lines = ['| seed | Monodepth2 + CycleGAN, night | ADDS + CycleGAN, night | ADDS better by |',
             '|---|---|---|---|']
    lines += [f'| {s} | {b:.3f} | {a:.3f} | {100 * d:+.1f} % |' for s, b, a, d in pairs]
    differences = [d for *_, d in pairs]
    word, interval = verdict(differences, planned)
    if interval is None:
        return lines + ['', f'Verdict: {word}.']
    mean, low, high = interval
    lines += ['', f'Paired difference over {len(pairs)} seeds: {100 * mean:+.1f} % '
              f'(95 % CI {100 * low:+.1f} % to {100 * high:+.1f} %), Wilcoxon signed-rank '
              f'p = {wilcoxon_p(differences):.3f}. **Verdict: {word}.**']
    for column, words in (('day_abs_rel_full40', 'by day'),
                          ('night_abs_rel_full40_per_image', 'at night, per-image statistics')):
        interval = paired_interval(rows, column)
        if interval is not None:
            _, mean, low, high = interval
            lines.append(f'- Secondary, {words}: {100 * mean:+.1f} % ({100 * low:+.1f} % to '
                         f'{100 * high:+.1f} %).')
    return lines


def merge(path: Path, rows: Sequence[dict]) -> List[dict]:
    """Merge rows into the results JSON (the earlier ablation's rows stay); return ours."""
    merged = ablation.merge_rows(path, rows)
    return [r for r in merged if r.get('experiment') == EXPERIMENT]


def write_section(path: Path, text: str) -> None:
    """Replace the marked section of `path` (the marks must be there)."""
    old = path.read_text() if path.exists() else ''
    if BEGIN not in old or END not in old:
        raise UserError(f'{path} has no {BEGIN} ... {END} section to write the results into')
    head, rest = old.split(BEGIN, 1)
    write_text_atomic(path, head + BEGIN + '\n' + text + END + rest.split(END, 1)[1])


# ------------------------------------------------------------------ command

def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group('--decisive (issue 24; docs/results.md, the plan)')
    group.add_argument('--decisive', action='store_true',
                       help='run the paired warm-start experiment instead of the ablation')
    group.add_argument('--worlds', type=Path, help='folder with hard/ and standard/ worlds '
                       '(each synth/ and synth_cg/, as prepared by adds synth + CycleGAN)')
    group.add_argument('--warm-steps', type=int, default=600)
    group.add_argument('--warm-seeds', type=int, nargs='+', default=list(range(5)))
    group.add_argument('--aux-ramp', type=int, default=0,
                       help='aux_ramp_steps of the ADDS arms (the plan\'s ramp rule)')
    group.add_argument('--world-only', nargs='+', choices=WORLDS, default=list(WORLDS))


def frozen_init(settings: Settings) -> Path:
    """Where the accepted warm start's best.pt is copied once: every arm's `init_from`."""
    return settings.out / 'init' / 'warm_start.pt'


def _warm_start(settings: Settings, args: argparse.Namespace) -> dict:
    """Train warm-start seeds in order until one is accepted; freeze a copy of its best.pt."""
    from adds_training.checkpoint import file_hash

    frozen = frozen_init(settings)
    attempts = []
    for seed in args.warm_seeds:
        run_dir = settings.out / 'warm' / f's{seed}'
        if not (run_dir / 'summary.json').exists() and not _has_done_line(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
            ablation._call(warm_start_command(settings, run_dir, seed, args.warm_steps),
                           run_dir / 'train.log', settings.threads)
        ok, info = accept_warm_start(run_dir)
        attempts.append(dict(info, seed=seed, accepted=ok))
        LOGGER.info(f'warm start seed {seed}: {info}, accepted: {ok}')
        if ok:
            if not frozen.exists():
                frozen.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run_dir / 'best.pt', frozen)
            return dict(info, source=str(frozen), hash=file_hash([frozen]), seed=seed,
                        accepted=True, attempts=attempts)
    raise UserError(f'no warm start was accepted: {attempts}')


def _has_done_line(run_dir: Path) -> bool:
    log = run_dir / 'train.log'
    return log.exists() and any(line.startswith('done: ')
                                for line in log.read_text().splitlines())


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Warm start, then every arm run in the plan's order, recorded as each finishes."""
    if args.worlds is None:
        raise UserError('--decisive needs --worlds (folder with hard/ and standard/ worlds)')
    worlds = [w for w in WORLDS if w in args.world_only]
    for world in worlds:
        if not (args.worlds / world / 'synth_cg' / 'splits' / 'train.txt').exists():
            raise UserError(f'{args.worlds / world}: no prepared world (synth/ and synth_cg/)')
    settings = world_settings(settings, args.worlds, worlds[0])
    plan = arm_runs(args.seeds, frozen_init(settings), args.aux_ramp, worlds)
    runs = [(r, r.name.split('_')[0]) for r in plan]
    if args.list:
        for r, world in runs:
            print(r.run_id, ' '.join(ablation.train_command(
                r, world_settings(settings, args.worlds, world), settings.out / 'runs' /
                r.run_id)))
        return 0
    warm = _warm_start(settings, args)
    write_text_atomic(settings.out / 'warm_start.json', json.dumps(warm, indent=1) + '\n')
    results = args.results or settings.out / 'results.json'
    table = args.table or settings.out / 'results.md'

    def record(rows: Sequence[dict]) -> None:
        ours = merge(results, rows)
        write_section(table, tables(ours, args.seeds, warm))

    with ThreadPoolExecutor(args.parallel) as pool:
        futures = {pool.submit(score_warm_start, world,
                               world_settings(settings, args.worlds, world), warm,
                               args.warm_steps): Run(f'{world}_warm_start', 'monodepth2', 'none',
                                                     warm['seed'], ())
                   for world in worlds}
        futures.update({pool.submit(execute, r, world,
                                    world_settings(settings, args.worlds, world)): r
                        for r, world in runs})
        failed = ablation.collect(futures, record)
    record([])
    if failed:
        LOGGER.error(f'{len(failed)} run(s) failed: {", ".join(failed)}; rerun to resume them')
    return 1 if failed else 0

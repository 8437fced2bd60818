# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds ablate`: the command line of the issue-19 ablation and of `--decisive` (issue 24).

Its own module because it is the one place that needs both: the ablation machinery
(`ablation`) and the paired warm-start experiment built on it (`paired`), so neither of those
imports the other back.
"""

import argparse
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserError
from adds_training.pictures import save_png
from adds_training.tools import paired
from adds_training.tools.ablation import (collect, comparison_picture, execute, merge_rows,
                                          PICTURE_GROUPS, prepare_data, run_list, Settings,
                                          summary_table, train_command, write_table)

LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--data', type=Path,
                        help='synthetic-world root (adds synth) with exact night twins '
                             '(required, except with --decisive)')
    parser.add_argument('--cyclegan-data', type=Path,
                        help='the same world with CycleGAN twins in day_train_fake_night')
    parser.add_argument('--out', type=Path, required=True, help='ablation folder (runs/...)')
    paired.add_arguments(parser)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--steps', type=int, default=1000)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--balance', default='normalised', choices=('reference', 'normalised'),
                        help='loss.balance of the ADDS runs (docs/model.md, "Loss balance")')
    parser.add_argument('--ablation-twins', default='cyclegan', choices=('cyclegan', 'exact'))
    parser.add_argument('--only', nargs='+', default=[], metavar='PATTERN',
                        help='run only the groups matching these names or patterns '
                             '(adds_no_*, monodepth2_day, ...); a group named exactly runs '
                             'every --seeds, a pattern keeps first-seed groups to the first')
    parser.add_argument('--keep-last', action='store_true',
                        help='keep each finished run\'s last.pt (~0.6 GB for ADDS; needed '
                             'only to continue it to more steps)')
    parser.add_argument('--parallel', type=int, default=2, help='runs side by side')
    parser.add_argument('--threads', type=int, default=1, help='CPU threads per run')
    parser.add_argument('--workers', type=int, default=1, help='data-loader workers per run')
    parser.add_argument('--val-every', type=int, default=None,
                        help='validate every N steps (default steps/10)')
    parser.add_argument('--grad-norm-every', type=int, default=100)
    parser.add_argument('--device', default='auto')
    parser.add_argument('--results', type=Path, default=None,
                        help='results JSON to merge rows into (default <out>/results.json)')
    parser.add_argument('--table', type=Path, default=None,
                        help='markdown table file (default <out>/results.md); its marked '
                             'section is replaced if present')
    parser.add_argument('--prepare', action='store_true',
                        help='render the world / build the CycleGAN root where missing')
    parser.add_argument('--render-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='--prepare: render size (default 1.5 x the training size)')
    parser.add_argument('--frames', type=int, default=80, help='--prepare: frames per street')
    parser.add_argument('--cyclegan-steps', type=int, default=400)
    parser.add_argument('--list', action='store_true', help='print the runs and stop')
    parser.add_argument('--learned-below', type=float, default=None, metavar='ABS_REL',
                        help='also tabulate the runs whose selected validation Abs Rel is below '
                             'this (runs from random weights can stay near a constant depth)')
    parser.add_argument('--picture', type=Path, default=None,
                        help='also draw a PNG: the middle test frames by day and by night, '
                             'input | each --picture-groups run of the first seed | ground truth')
    parser.add_argument('--picture-groups', nargs='+', default=list(PICTURE_GROUPS))


def run(args: argparse.Namespace) -> int:
    if args.height % 32 or args.width % 32 or min(args.height, args.width) < 64:
        raise UserError(f'--height/--width must be multiples of 32 and at least 64 (the '
                        f'depth decoder needs a 2x2 deepest feature), got '
                        f'{args.height}x{args.width}')
    if args.parallel < 1 or args.steps < 1 or not args.seeds:
        raise UserError('--parallel and --steps must be >= 1 and --seeds not empty')
    if args.decisive:
        return paired.run(args, Settings(
            data=Path(), cyclegan_data=None, out=args.out, height=args.height, width=args.width,
            steps=args.steps, batch_size=args.batch_size, val_every=args.val_every,
            device=args.device, threads=args.threads, workers=args.workers,
            grad_norm_every=args.steps))  # the first step's balance, measured once
    if args.data is None:
        raise UserError('--data is required (the synthetic-world root)')
    settings = Settings(data=args.data, cyclegan_data=args.cyclegan_data, out=args.out,
                        height=args.height, width=args.width, steps=args.steps,
                        batch_size=args.batch_size, val_every=args.val_every,
                        device=args.device, threads=args.threads, workers=args.workers,
                        grad_norm_every=args.grad_norm_every)
    runs = run_list(args.seeds, args.balance, args.ablation_twins, args.only)
    if args.cyclegan_data is None and any(r.twins == 'cyclegan' for r in runs):
        raise UserError('the run list has CycleGAN-twin runs: give --cyclegan-data (or '
                        "--only groups without them, or --ablation-twins exact)")
    if args.list:
        for r in runs:
            print(r.run_id, ' '.join(train_command(r, settings, args.out / 'runs' / r.run_id)))
        return 0
    if args.prepare:
        render = tuple(args.render_size or (args.height * 3 // 2, args.width * 3 // 2))
        try:
            prepare_data(settings, render, args.frames, args.cyclegan_steps)
        except RuntimeError as err:
            raise UserError(f'preparing the data: {err}') from None
    if not (args.data / 'splits' / 'val_day.txt').exists():
        raise UserError(f'{args.data} is not a synthetic-world root (no splits/val_day.txt); '
                        'render it with adds synth or pass --prepare')
    settings.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(settings.out / 'settings.json', json.dumps(
        {k: str(v) for k, v in asdict(settings).items()}, indent=1) + '\n')
    results, table_path = args.results or settings.out / 'results.json', args.table or \
        settings.out / 'results.md'

    def record(rows: Sequence[dict]) -> str:
        merged = merge_rows(results, rows)
        table = summary_table([r for r in merged if r['steps'] == settings.steps
                               and r['resolution'] == settings.resolution
                               and 'experiment' not in r], args.learned_below)
        write_table(table_path, table)
        return table

    with ThreadPoolExecutor(args.parallel) as pool:
        failed = collect({pool.submit(execute, r, settings, args.keep_last): r for r in runs},
                         record)
    print(record([]))
    if args.picture:
        save_png(args.picture, comparison_picture(settings, args.picture_groups, args.seeds[0]))
    if failed:
        LOGGER.error(f'{len(failed)} run(s) failed: {", ".join(failed)}; rerun to resume them')
    return 1 if failed else 0

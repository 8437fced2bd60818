# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds synth`: render the synthetic day/night street dataset (resumable, deterministic)."""

import argparse
from pathlib import Path
from typing import Dict

from adds_ros import cli_config
from adds_ros.errors import UserError

# name on the command line -> SynthConfig field
SEQUENCE_ARGS = {'train': 'train_sequences', 'val': 'val_sequences', 'test': 'test_sequences',
                 'night': 'night_sequences'}


def parse_sequences(items) -> Dict[str, int]:
    """`train=4 val=1 ...` -> SynthConfig keyword arguments; unknown names are an error."""
    counts = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or name not in SEQUENCE_ARGS or not value.isdigit():
            raise ValueError(f'--sequences takes NAME=COUNT with NAME in {sorted(SEQUENCE_ARGS)}'
                             f', got {item!r}')
        counts[SEQUENCE_ARGS[name]] = int(value)
    return counts


HELP = {'seed': 'world/noise seed', 'height': 'image height', 'width': 'image width',
        'frames': 'frames per sequence',
        'max_depth': 'ground truth beyond this many metres is stored as invalid',
        'workers': 'processes rendering in parallel',
        'night_difficulty': "the night camera: 'standard' (every earlier result) or 'hard' "
                            '(underexposed, noisy, compressed, glare, colour cast, motion blur; '
                            'docs/synthetic.md)'}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adds_training.data.synthetic.write import SynthConfig
    parser.add_argument('--out', type=Path, required=True, help='dataset root to write')
    from adds_training.data.synthetic.render import NIGHT_DIFFICULTIES
    cli_config.add_options(parser, SynthConfig, HELP, skip=SEQUENCE_ARGS.values(),
                           extra={'night_difficulty': {'choices': NIGHT_DIFFICULTIES}})
    defaults = SynthConfig()
    parser.add_argument('--sequences', nargs='+', metavar='NAME=COUNT',
                        help='sequences per folder: train (day_train), val and test (day and '
                             'night each), night (unpaired night_train); default ' + ' '.join(
                                 f'{name}={getattr(defaults, field)}'
                                 for name, field in SEQUENCE_ARGS.items()))
    parser.add_argument('--contact-sheet', type=Path,
                        help='also write day/night/depth of a few day_train frames here')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    from adds_training import pictures
    from adds_training.data.synthetic.write import contact_sheet, render_dataset, SynthConfig
    try:
        cfg = SynthConfig(**cli_config.given_values(SynthConfig, args),
                          **parse_sequences(args.sequences))
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.contact_sheet and not cfg.train_sequences:
        raise UserError('--contact-sheet needs at least one train sequence')
    try:
        summary = render_dataset(args.out, cfg, progress=not args.quiet)
    except ValueError as err:
        raise UserError(str(err)) from None
    rate = summary.rendered / summary.seconds if summary.rendered else 0.0
    print(f'{args.out}: rendered {summary.rendered} frames, skipped {summary.skipped} '
          f'already there, {summary.seconds:.1f} s ({rate:.2f} frames/s)')
    for split, count in summary.splits.items():
        print(f'  splits/{split}.txt: {count} entries')
    if args.contact_sheet:
        step = max(cfg.frames // 3, 1)
        entries = [('day_train', i) for i in range(0, cfg.frames, step)][:3]
        pictures.save_png(args.contact_sheet, contact_sheet(args.out, entries))
        print(f'contact sheet: {args.contact_sheet}')
    return 0

# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The `adds` command: one entry point, one sub-command per step of the pipeline.

Each sub-command lives in its own module and is imported only when it runs, so `adds --help`
stays fast and the runtime side never imports PyTorch by accident. A module named here provides
`add_arguments(parser)` and `run(args) -> int`.
"""

import argparse
import importlib
import importlib.util
import logging
import sys
from importlib.metadata import entry_points
from typing import Dict, Optional, Sequence, Tuple

from adds_ros import __version__
from adds_ros.commands import COMMANDS
from adds_ros.errors import EXIT_USER_ERROR, UserError
from adds_ros.log import command_logging

# Flags that go before COMMAND (`adds -v train ...`) and set the log level of every command.
LOG_LEVELS = {'-v': logging.DEBUG, '--verbose': logging.DEBUG,
              '-q': logging.WARNING, '--quiet': logging.WARNING}

# Other packages add sub-commands through this entry-point group: an entry point names a module
# with a COMMANDS table like adds_ros.commands' (the training half registers adds_training's).
PLUGIN_GROUP = 'adds_ros.commands'
OUR_PACKAGES = ('adds_ros', 'adds_training')
MISSING_HINT = "the training half: pip install '.[train]' in the repository, docs/ros.md#install"


def command_table() -> Dict[str, Tuple[str, str]]:
    """Name -> (module, one-line help): the runtime's own commands, then registered ones.

    The runtime never names a training module: adds_training registers its commands itself
    (setup.py entry point), so an install without it simply lists fewer commands.
    """
    table = dict(COMMANDS)
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            table.update(importlib.import_module(entry.value).COMMANDS)
        except ImportError:  # a half that is not installed
            continue
    return table


def available_commands() -> dict:
    """Return the sub-commands whose module is installed (optional extras may be missing)."""
    out = {}
    for name, (module, help_text) in command_table().items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            out[name] = (module, help_text)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='adds',
        description='adds_ros: all-day self-supervised monocular depth (ADDS) for vehicles.')
    parser.add_argument('--version', action='version', version=f'adds_ros {__version__}')
    parser.add_argument('-v', '--verbose', action='store_true', help='log debug messages too')
    parser.add_argument('-q', '--quiet', action='store_true',
                        help='log only warnings and errors (results still go to stdout)')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module, help_text) in available_commands().items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command name, then let that command's module parse the rest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    level = logging.INFO
    while argv and argv[0] in LOG_LEVELS:
        level = LOG_LEVELS[argv.pop(0)]
    commands = available_commands()
    if not argv or argv[0] not in commands:
        parser = build_parser()
        parser.parse_args(argv or ['--help'])
        return 2
    name, rest = argv[0], argv[1:]
    try:
        module = importlib.import_module(commands[name][0])
        parser = argparse.ArgumentParser(prog=f'adds {name}', description=commands[name][1])
        module.add_arguments(parser)
        args = parser.parse_args(rest)
        with command_logging(name, level):
            return int(module.run(args) or 0)
    except UserError as err:
        print(f'adds {name}: {err}', file=sys.stderr)
        return EXIT_USER_ERROR
    except ModuleNotFoundError as err:
        if (err.name or '').split('.')[0] in OUR_PACKAGES:
            raise
        print(f'adds {name}: needs the Python package {err.name!r}, which this install lacks '
              f"(the vehicle's install has only the runtime; {MISSING_HINT})", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as err:  # its message, if any, says what was cleaned up
        print(f'adds {name}: interrupted' + (f': {err}' if str(err) else ''), file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())

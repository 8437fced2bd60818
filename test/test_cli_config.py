# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One option per config field, and the config back: types, switches, sizes, presets."""

import argparse
from dataclasses import dataclass, field, fields, MISSING
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from adds_ros import cli_config
from adds_ros.settings import param


def size(text: str) -> Tuple[int, int]:
    height, width = text.split('x')
    return int(height), int(width)


@dataclass
class Example:
    name: str
    out: Path = Path('out')
    steps: int = 3
    lr: float = 1e-4
    limit: Optional[int] = None
    amp: bool = True
    verbose: bool = False
    camera: Tuple[int, int] = (4, 8)
    sizes: List[Tuple[int, int]] = field(default_factory=lambda: [(2, 4)])
    counts: Tuple[int, ...] = ()
    skip: Tuple[str, ...] = ()


def parser(**kwargs) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser()
    cli_config.add_options(result, Example, {'steps': 'training steps', 'amp': 'mixed precision',
                                             'camera': 'camera HxW (default: a small one)'},
                           parsers={'camera': size, 'sizes': size},
                           extra={'skip': dict(nargs='*', choices=('a', 'b'))}, **kwargs)
    return result


def test_defaults_come_back_when_nothing_is_given():
    assert cli_config.build(Example, parser().parse_args(['--name', 'x'])) == Example('x')


def test_each_field_parses_to_its_type():
    args = parser().parse_args(['--name', 'x', '--out', 'o', '--steps', '5', '--lr', '0.5',
                                '--limit', '7', '--no-amp', '--verbose', '--camera', '6x10',
                                '--sizes', '1x2', '3x4', '--counts', '1', '2', '--skip'])
    assert cli_config.build(Example, args) == Example(
        'x', Path('o'), 5, 0.5, 7, False, True, (6, 10), [(1, 2), (3, 4)], (1, 2), ())


def test_a_field_without_default_is_required_and_bad_words_are_refused(capsys):
    for words in ([], ['--name', 'x', '--steps', 'many'], ['--name', 'x', '--skip', 'c']):
        with pytest.raises(SystemExit):
            parser().parse_args(words)
    assert 'invalid choice' in capsys.readouterr().err


def test_preset_sits_between_defaults_and_given_options():
    args = parser().parse_args(['--name', 'x', '--steps', '9'])
    built = cli_config.build(Example, args, preset={'steps': 1, 'lr': 2.0})
    assert (built.steps, built.lr, built.camera) == (9, 2.0, (4, 8))


def test_help_shows_defaults_unless_the_text_names_its_own(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert 'training steps (default 3)' in text and '--no-amp' in text
    assert 'disable: mixed precision' in text and 'default: a small one)' in text
    assert '(default (4, 8))' not in text


def test_skipped_fields_get_no_option_and_unparsable_types_need_a_parser():
    args = parser(skip=('sizes',)).parse_args(['--name', 'x'])
    assert not hasattr(args, 'sizes')
    with pytest.raises(TypeError, match='camera'):
        cli_config.add_options(argparse.ArgumentParser(), Example, {})


def test_param_fields_bring_their_help_and_choices(capsys):
    @dataclass
    class Settings:
        mode: str = param('a', 'how to run', choices=('a', 'b'))
        steps: int = param(3, 'how many', (1, 10))

    parser = argparse.ArgumentParser(prog='x')
    cli_config.add_options(parser, Settings)
    assert cli_config.build(Settings, parser.parse_args(['--mode', 'b'])) == Settings('b', 3)
    with pytest.raises(SystemExit):
        parser.parse_args(['--mode', 'c'])
    assert "invalid choice: 'c'" in capsys.readouterr().err
    text = ' '.join(parser.format_help().split())
    assert '--mode {a,b} how to run (default a)' in text and 'how many (default 3)' in text


def shared_declarations():
    """(source, user, field) of every option one command takes from another's declaration."""
    from adds_ros.tools.engine_cli import EngineConfig
    from adds_training.evaluate import EvalConfig
    from adds_training.export import ExportConfig
    from adds_training.data.robotcar.gt import GTConfig
    from adds_training.data.robotcar.prepare import PrepareConfig
    from adds_training.networks.loading import LoadOptions
    from adds_training.tools.bags.bag_depth import BagDepthConfig
    from adds_training.tools.bags.raw_to_bag import BagConfig
    from adds_training.tools.parity import ParityConfig
    return ([(EngineConfig, ParityConfig, name) for name in ('precision', 'calib')]
            + [(LoadOptions, user, name) for user in (EvalConfig, ExportConfig)
               for name in ('checkpoint', 'domain', 'normalisation')]
            + [(PrepareConfig, GTConfig, name) for name in ('models', 'out', 'workers')]
            + [(BagConfig, BagDepthConfig, name) for name in ('storage', 'split_size_mb',
                                                              'overwrite')])


def test_commands_share_one_declaration_of_their_common_options():
    """adds parity takes precision/calib from adds engine; eval and export the loading ones."""
    for source, user, name in shared_declarations():
        original, shared = ({f.name: f for f in fields(cls)}[name] for cls in (source, user))
        assert shared.metadata['section'] == (source, name)
        assert (shared.default, shared.metadata['description']) == \
            (original.default, original.metadata['description'])


def test_extra_flags_give_aliases_and_positionals():
    @dataclass
    class Settings:
        source: Path = param(MISSING, 'where from')
        models_dir: Path = param(MISSING, 'models')
        size_mb: float = param(0.0, 'split size')

    parser = argparse.ArgumentParser()
    cli_config.add_options(parser, Settings, extra={
        'source': {'flags': ['source']}, 'models_dir': {'flags': ['--models-dir', '--models']},
        'size_mb': {'flags': ['--size'], 'metavar': 'MB'}})
    args = parser.parse_args(['in', '--models', 'm', '--size', '2.5'])
    assert cli_config.build(Settings, args) == Settings(Path('in'), Path('m'), 2.5)

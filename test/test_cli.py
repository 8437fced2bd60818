# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import subprocess
import sys

from adds_ros import cli


def test_help_lists_available_commands(capsys):
    try:
        cli.main(['--help'])
    except SystemExit as done:
        assert done.code == 0
    out = capsys.readouterr().out
    for name in cli.available_commands():
        assert name in out


def test_every_command_module_has_the_interface():
    import importlib
    for name, (module, _) in cli.available_commands().items():
        mod = importlib.import_module(module)
        assert callable(getattr(mod, 'add_arguments', None)), name
        assert callable(getattr(mod, 'run', None)), name


def test_unknown_command_fails_with_usage():
    result = subprocess.run([sys.executable, '-m', 'adds_ros.cli', 'no-such-command'],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert 'invalid choice' in result.stderr

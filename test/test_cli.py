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


def test_each_half_registers_its_own_commands():
    from adds_ros.commands import COMMANDS as RUNTIME
    from adds_training.commands import COMMANDS as TRAINING
    table = cli.command_table()
    assert set(RUNTIME) | set(TRAINING) == set(table)  # training's via the entry point
    assert all(module.startswith('adds_ros.') for module, _ in RUNTIME.values())
    assert all(module.startswith('adds_training.') for module, _ in TRAINING.values())


def test_the_runtime_imports_no_training_module():
    """Not even lazily: the training half registers what it adds (commands, the torch backend)."""
    import ast
    from pathlib import Path
    root = Path(cli.__file__).parent
    offenders = []
    for path in sorted(root.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split('.')[0] == 'adds_training' for n in names):
                offenders.append(path.relative_to(root).as_posix())
    assert offenders == []


def test_a_missing_package_says_what_to_install(tmp_path, monkeypatch, capsys):
    """On the vehicle's install (no training half) `adds train` names the missing package."""
    (tmp_path / 'needy_command.py').write_text('import no_such_package_here\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, 'available_commands', lambda: {'needy': ('needy_command', '')})
    assert cli.main(['needy']) == 2
    err = capsys.readouterr().err
    assert err.startswith("adds needy: needs the Python package 'no_such_package_here'")
    assert "pip install '.[train]'" in err

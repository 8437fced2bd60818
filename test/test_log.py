# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The one logging set-up of `adds`: progress on stderr with the command's prefix."""

import logging
import re
import sys

import pytest
from tqdm import tqdm

from adds_ros import cli
from adds_ros.log import command_logging, route_to_rclpy, setup_logging, TqdmHandler, unroute

LOGGER = logging.getLogger('adds_training.test_log')


def our_handlers():
    return [h for h in logging.getLogger().handlers if isinstance(h, TqdmHandler)]


def test_messages_go_to_stderr_with_the_command_prefix(capsys):
    with command_logging('export'):
        LOGGER.debug('not shown at INFO')
        LOGGER.info('exporting')
        LOGGER.warning('no metric scale')
        logging.getLogger('some_library').info('third-party chatter stays out')
    out, err = capsys.readouterr()
    assert out == ''
    assert err == '[adds export] exporting\n[adds export] warning: no metric scale\n'


def test_levels_and_one_handler_however_often_it_is_set_up(capsys):
    with command_logging('train', logging.WARNING):
        setup_logging('train', logging.WARNING)  # again: replaces, does not stack
        assert len(our_handlers()) == 1
        LOGGER.info('quiet hides progress')
        LOGGER.error('but not errors')
    assert capsys.readouterr().err == '[adds train] error: but not errors\n'
    with command_logging('train', logging.DEBUG):
        LOGGER.debug('verbose shows debug')
    assert capsys.readouterr().err == '[adds train] verbose shows debug\n'


def test_the_set_up_is_undone_after_the_command(capsys):
    before = (logging.getLogger().level, logging.getLogger('adds_training').level)
    with command_logging('demo'):
        pass
    assert our_handlers() == []
    assert (logging.getLogger().level, logging.getLogger('adds_training').level) == before


def test_a_logged_line_does_not_tear_an_open_progress_bar(capsys):
    with command_logging('bench'):
        with tqdm(total=3, desc='inference', file=sys.stderr, ascii=True) as bar:
            bar.update(1)
            LOGGER.info('exporting the model')
            bar.update(1)
    err = capsys.readouterr().err
    # tqdm.write clears the bar, writes the whole line, then redraws the bar after it.
    assert '\n[adds bench] exporting the model\n' in err.replace('\r', '\n')
    assert err.index('exporting the model') < err.rindex('inference')


def test_cli_flags_before_the_command_set_the_level(monkeypatch, capsys):
    import types

    seen = {}

    def run(args):
        seen['level'] = logging.getLogger('adds_training').getEffectiveLevel()
        LOGGER.info('progress')
        print('result')
        return 0

    module = types.SimpleNamespace(add_arguments=lambda parser: None, run=run)
    monkeypatch.setattr(cli, 'available_commands', lambda: {'fake': ('fake_mod', 'a test')})
    monkeypatch.setitem(sys.modules, 'fake_mod', module)
    assert cli.main(['fake']) == 0
    assert capsys.readouterr() == ('result\n', '[adds fake] progress\n')
    assert cli.main(['-q', 'fake']) == 0 and seen['level'] == logging.WARNING
    assert capsys.readouterr() == ('result\n', '')
    assert cli.main(['--verbose', 'fake']) == 0 and seen['level'] == logging.DEBUG


def test_the_node_hears_our_modules_through_its_rclpy_logger(capfd):
    """route_to_rclpy: our records reach a real rclpy logger at their severity, others not."""
    rclpy_logging = pytest.importorskip('rclpy.logging')
    handler = route_to_rclpy(rclpy_logging.get_logger('adds_log_test'))
    try:
        logging.getLogger('adds_ros.backends.engine_cache').info('building an engine')
        logging.getLogger('adds_training.export').warning('careful')
        logging.getLogger('adds_ros.node').error('broken')
        logging.getLogger('some.library').warning('not ours')
    finally:
        unroute(handler)
    logging.getLogger('adds_ros.node').info('after unrouting')
    err = capfd.readouterr().err
    assert re.search(r'\[INFO\] \[[\d.]+\] \[adds_log_test\]: building an engine', err), err
    assert re.search(r'\[WARN\] \[[\d.]+\] \[adds_log_test\]: careful', err), err
    assert re.search(r'\[ERROR\] \[[\d.]+\] \[adds_log_test\]: broken', err), err
    assert 'Logging error' not in err and 'after unrouting' not in err
    assert '[adds_log_test]: not ours' not in err
    assert logging.getLogger('adds_ros').propagate

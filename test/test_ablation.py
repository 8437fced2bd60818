# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds ablate`: the issue's run list, commands, resumable bookkeeping and the summary table.

Training and evaluation themselves are tested in test_trainer.py / test_evaluate.py; the
runner was run end to end at 64x64 / 10 steps (docs/results.md, "Ablation runner").
"""

import argparse
import json

import pytest

from adds_ros import cli
from adds_ros.errors import UserError
from adds_training.tools import ablate_command, ablation, paired
from adds_training.config import load_config


def test_run_list_is_the_issues():
    runs = ablation.run_list([0, 1, 2])
    counts = {}
    for r in runs:
        counts[r.name] = counts.get(r.name, 0) + 1
    assert {name for name, n in counts.items() if n == 3} == {
        'monodepth2_day', 'monodepth2_cyclegan', 'adds_cyclegan', 'adds_exact'}
    assert sum(counts.values()) == 4 * 3 + 12
    by_id = {r.run_id: r for r in runs}
    assert by_id['monodepth2_cyclegan_s1'].twins == 'cyclegan'
    assert 'use_fake_night=true' in by_id['monodepth2_exact_s0'].words
    assert by_id['adds_no_similarity_s0'].twins == 'cyclegan'
    assert 'lr_warmup_steps=100' in by_id['monodepth2_day_warmup_s0'].words
    assert 'loss.similarity=0' in by_id['adds_no_similarity_s0'].words
    assert 'loss.balance=normalised' in by_id['adds_exact_s2'].words
    assert by_id['adds_exact_reference_balance_s0'].words == ('loss.balance=reference',)
    assert 'domain_batch=joint' in by_id['monodepth2_cyclegan_joint_batch_s0'].words
    assert not any('balance' in w for w in by_id['monodepth2_day_s0'].words)
    only = ablation.run_list([0], 'reference', 'exact', only=['adds_no_*'])
    assert [r.twins for r in only] == ['exact'] * 4
    assert all('loss.balance=reference' in r.words for r in only)
    # a first-seed group runs every seed when named exactly, the first seed when matched
    named = ablation.run_list([3, 4], only=['adds_cyclegan_reference_balance'])
    assert [r.run_id for r in named] == ['adds_cyclegan_reference_balance_s3',
                                         'adds_cyclegan_reference_balance_s4']
    matched = ablation.run_list([3, 4], only=['adds_cyclegan_reference_bal*'])
    assert [r.run_id for r in matched] == ['adds_cyclegan_reference_balance_s3',
                                           'adds_cyclegan_reference_balance_warmup_s3']


def test_train_command_is_a_valid_config_that_never_selects_on_test(tmp_path):
    settings = ablation.Settings(data=tmp_path / 'synth', cyclegan_data=tmp_path / 'cg',
                                 out=tmp_path, height=64, width=64, steps=10)
    run = ablation.run_list([4], only=['adds_no_reconstruction'])[0]
    command = ablation.train_command(run, settings, tmp_path / 'r')
    words = command[command.index('--config') + 2:]
    config = load_config(command[command.index('--config') + 1], words)
    assert (config.mode, config.seed, config.max_steps) == ('adds', 4, 10)
    assert config.data_root == str(tmp_path / 'cg')
    assert config.val_splits == ['val_day', 'val_night'] and config.val_every_steps == 1
    assert config.loss['reconstruction_mse'] == 0 and config.loss['balance'] == 'normalised'
    evaluate = ablation.eval_command(settings, tmp_path / 'r')
    assert evaluate[evaluate.index('--estimate-scale') + 1] == 'val_day'
    assert evaluate[evaluate.index('--data') + 1] == str(tmp_path / 'synth')


def _row(group, seed, day, night, steps=10):
    return {'run': f'{group}_s{seed}', 'group': group, 'seed': seed, 'steps': steps,
            'resolution': '64x64', 'selected_step': 10 - seed,
            'day_abs_rel_full40': day, 'night_abs_rel_full40': night,
            'day_abs_rel_full40_metric': day, 'night_abs_rel_full40_metric': night,
            'day_abs_rel_full40_per_image': day - 0.01, 'night_abs_rel_full40_per_image': night}


def test_table_gives_mean_and_sample_spread_and_the_targets():
    rows = [_row('monodepth2_day', 0, 0.20, 0.30), _row('monodepth2_day', 1, 0.22, 0.32),
            _row('monodepth2_cyclegan', 0, 0.25, 0.25),
            _row('adds_cyclegan', 0, 0.2, 0.2), _row('adds_cyclegan', 1, 0.22, 0.22)]
    del rows[2]['day_abs_rel_full40_per_image']     # a row from before per-image scores
    table = ablation.summary_table(rows)
    # day, night, day metric, night metric, day per-image, night per-image
    assert ('| monodepth2_day | 64x64 | 10 | 2 | 0.210 ± 0.014 | 0.310 ± 0.014 | 0.210 ± 0.014 '
            '| 0.310 ± 0.014 | 0.200 ± 0.014 | 0.310 ± 0.014 |') in table
    assert '| monodepth2_cyclegan | 64x64 | 10 | 1 | 0.250 | 0.250 | 0.250 | 0.250 | — |' in table
    assert '| adds_cyclegan | 64x64 | 10 | 2 |' in table and '| 10, 9 |' in table  # by seed
    # night: 1 - 0.21 / 0.25 = 16 % better (met); day: 0.21 / 0.21 - 1 = 0 % (met)
    assert ('`adds_cyclegan`, running statistics: ADDS + CycleGAN vs Monodepth2 + CycleGAN '
            '(`monodepth2_cyclegan`) at night +16.0 % better (target ≥ +5 %, met); by day +0.0 % '
            'against Monodepth2 day-only (`monodepth2_day`; target ≤ +2 %, met)') in table
    assert 'per-image statistics' not in table   # the baseline lacks a per-image score
    assert table.index('monodepth2_day') < table.index('adds_cyclegan |')
    assert 'fewer than the 3 seeds' in table   # Monodepth2 + CycleGAN has one
    assert 'adds_cyclegan_reference_balance`' not in table
    # the reference-balance ADDS group is judged the same way when it is there
    rows[2] = _row('monodepth2_cyclegan', 0, 0.25, 0.25)
    rows.append(_row('adds_cyclegan_reference_balance', 0, 0.26, 0.26))
    table = ablation.summary_table(rows)
    assert ('`adds_cyclegan_reference_balance`, running statistics: ADDS + CycleGAN vs '
            'Monodepth2 + CycleGAN (`monodepth2_cyclegan`) at night -4.0 % better (target ≥ '
            '+5 %, not met); by day +23.8 %') in table
    # per image (day scores 0.01 lower): 0.25 / 0.20 - 1 = +25 %
    assert ('`adds_cyclegan_reference_balance`, per-image statistics: ADDS + CycleGAN vs '
            'Monodepth2 + CycleGAN (`monodepth2_cyclegan`) at night -4.0 % better (target ≥ '
            '+5 %, not met); by day +25.0 %') in table
    # the joint-batch pair is judged against its own baseline with twins
    rows += [_row('adds_cyclegan_joint_batch', 0, 0.2, 0.2),
             _row('monodepth2_cyclegan_joint_batch', 0, 0.4, 0.4)]
    table = ablation.summary_table(rows)
    assert '(`monodepth2_cyclegan_joint_batch`) at night +50.0 % better' in table


def test_learned_runs_are_tabulated_apart_by_validation_score():
    rows = [_row('monodepth2_day', 0, 0.20, 0.30), _row('monodepth2_day', 1, 0.60, 0.50),
            _row('monodepth2_cyclegan', 0, 0.25, 0.25), _row('adds_cyclegan', 0, 0.2, 0.2)]
    for row, val in zip(rows, (0.21, 0.55, 0.26, 0.2)):
        row['val_abs_rel'] = val
    assert 'learned' not in ablation.summary_table(rows)
    table = ablation.summary_table(rows, learned_below=0.4)
    everything, learned = table.split('Runs that learned')
    assert '| monodepth2_day | 64x64 | 10 | 2 | 0.400 ± 0.283 |' in everything
    assert ' (selected validation Abs Rel < 0.4): 3 of 4; not: monodepth2_day_s1.' in learned
    assert '| monodepth2_day | 64x64 | 10 | 1 | 0.200 |' in learned
    # by day against the learned day-only run: 0.2 / 0.2 - 1
    assert 'by day +0.0 % against Monodepth2 day-only' in learned
    assert ablation.summary_table(rows, learned_below=0.1).endswith(
        '0 of 4; not: adds_cyclegan_s0, monodepth2_cyclegan_s0, monodepth2_day_s0, '
        'monodepth2_day_s1.\n')


def test_rows_merge_and_the_table_replaces_only_its_section(tmp_path):
    path = tmp_path / 'results.json'
    ablation.merge_rows(path, [_row('adds_exact', 0, 0.3, 0.3), _row('adds_exact', 1, 0.3, 0.3)])
    merged = ablation.merge_rows(path, [_row('adds_exact', 0, 0.1, 0.1),
                                        _row('adds_exact', 0, 0.2, 0.2, steps=20)])
    assert len(merged) == 3 and json.loads(path.read_text()) == merged
    assert [r['day_abs_rel_full40'] for r in merged if r['steps'] == 10] == [0.1, 0.3]
    doc = tmp_path / 'results.md'
    doc.write_text(f'# Results\nbefore\n{ablation.BEGIN}\nold\n{ablation.END}\nafter\n')
    ablation.write_table(doc, '| new |\n')
    assert doc.read_text() == f'# Results\nbefore\n{ablation.BEGIN}\n| new |\n{ablation.END}' \
                              '\nafter\n'


def test_finished_runs_are_read_back_not_redone(tmp_path, monkeypatch):
    settings = ablation.Settings(data=tmp_path, cyclegan_data=None, out=tmp_path)
    run = ablation.run_list([0], only=['monodepth2_day'])[0]
    (tmp_path / 'runs' / run.run_id).mkdir(parents=True)
    row = _row('monodepth2_day', 0, 0.2, 0.3)
    (tmp_path / 'runs' / run.run_id / 'row.json').write_text(json.dumps(row))

    def no_calls(*args):
        raise AssertionError('a finished run was started again')

    monkeypatch.setattr(ablation, '_call', no_calls)
    assert ablation.execute(run, settings) == row


def test_a_row_from_before_per_image_scores_gets_them_by_one_eval(tmp_path, monkeypatch):
    settings = ablation.Settings(data=tmp_path, cyclegan_data=None, out=tmp_path)
    run = ablation.run_list([0], only=['monodepth2_day'])[0]
    run_dir = tmp_path / 'runs' / run.run_id
    run_dir.mkdir(parents=True)
    row = {k: v for k, v in _row('monodepth2_day', 0, 0.2, 0.3).items()
           if not k.endswith('_per_image')}
    (run_dir / 'row.json').write_text(json.dumps(row))
    calls = []

    def per_image_eval(command, log, threads):
        calls.append(command)
        scores = {'abs_rel': 0.25}
        report = {'results': {s: {p: scores for p in ablation.PROTOCOLS}
                              for s in ablation.SPLITS.values()}}
        (run_dir / 'eval_per_image').mkdir()
        (run_dir / 'eval_per_image' / 'results.json').write_text(json.dumps(report))

    monkeypatch.setattr(ablation, '_call', per_image_eval)
    completed = ablation.execute(run, settings)
    assert len(calls) == 1 and calls[0][calls[0].index('--normalisation') + 1] == 'per_image'
    assert completed == {**row, 'day_abs_rel_full40_per_image': 0.25,
                         'night_abs_rel_full40_per_image': 0.25,
                         'day_abs_rel_full40_metric_per_image': 0.25,
                         'night_abs_rel_full40_metric_per_image': 0.25}
    assert json.loads((run_dir / 'row.json').read_text()) == completed
    assert ablation.execute(run, settings) == completed and len(calls) == 1  # done once


def test_cli_lists_runs_and_refuses_bad_settings(tmp_path, capsys):
    assert cli.main(['ablate', '--data', str(tmp_path), '--out', str(tmp_path / 'o'),
                     '--only', 'monodepth2_day', '--seeds', '0', '1', '--list']) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ['monodepth2_day_s0', 'monodepth2_day_s1']
    assert cli.main(['ablate', '--data', str(tmp_path), '--out', str(tmp_path / 'o'),
                     '--list']) == 2
    assert '--cyclegan-data' in capsys.readouterr().err
    assert cli.main(['ablate', '--data', str(tmp_path), '--out', str(tmp_path / 'o'),
                     '--height', '32', '--width', '64']) == 2
    assert 'at least 64' in capsys.readouterr().err
    parser = argparse.ArgumentParser()
    ablate_command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(['--data', 'x', '--out', 'y', '--balance', 'auto'])


def test_each_finished_run_is_recorded_at_once(tmp_path, monkeypatch):
    """Rows and table are written as runs finish, so a killed or time-boxed call keeps them."""
    (tmp_path / 'splits').mkdir()
    (tmp_path / 'splits' / 'val_day.txt').write_text('')

    def execute(run, settings, keep_last=False):
        if run.seed == 1:   # the call is killed during the second run
            raise KeyboardInterrupt
        return _row(run.name, run.seed, 0.2, 0.3)

    monkeypatch.setattr(ablate_command, 'execute', execute)
    assert cli.main(['ablate', '--data', str(tmp_path), '--out', str(tmp_path / 'o'),
                     '--only', 'monodepth2_day', '--seeds', '0', '1', '--parallel', '1',
                     '--height', '64', '--width', '64', '--steps', '10']) == 130
    rows = json.loads((tmp_path / 'o' / 'results.json').read_text())
    assert [row['run'] for row in rows] == ['monodepth2_day_s0']
    assert '| monodepth2_day | 64x64 | 10 | 1 |' in (tmp_path / 'o' / 'results.md').read_text()


def test_picture_median_scales_each_run_and_names_missing_ones(tmp_path, monkeypatch):
    """A run predicting twice the true depth looks exactly like the ground truth once scaled."""
    import numpy as np
    import torch

    import adds_training.networks
    from adds_training import pictures
    from test_trainer_support import HEIGHT, make_tiny_dataset, WIDTH

    data = make_tiny_dataset(tmp_path / 'tiny')
    settings = ablation.Settings(data=data, cyclegan_data=None, out=tmp_path / 'out',
                                 height=HEIGHT, width=WIDTH)
    groups = ('monodepth2_day', 'adds_cyclegan_joint_batch')
    with pytest.raises(UserError, match='adds_cyclegan_joint_batch_s0/best.pt'):
        ablation.comparison_picture(settings, groups, 0)

    class TwiceTooFar(torch.nn.Module):
        def forward(self, x):
            depth = 2 * torch.linspace(40, 5, HEIGHT).view(1, 1, HEIGHT, 1).expand(
                x.shape[0], 1, HEIGHT, WIDTH)
            return [(1 / depth - 1 / 100) / (1 / 0.1 - 1 / 100)]

    for group in groups:
        (settings.out / 'runs' / f'{group}_s0').mkdir(parents=True)
        (settings.out / 'runs' / f'{group}_s0' / 'best.pt').touch()
    info = {'meta': {'min_depth': 0.1, 'max_depth': 100.0}}
    monkeypatch.setattr(adds_training.networks, 'load_depth_net',
                        lambda path: (TwiceTooFar(), info))
    picture = ablation.comparison_picture(settings, groups, 0, ('val_day', 'val_night'))
    scale = pictures.panel_scale(WIDTH)
    height, width = HEIGHT * scale, WIDTH * scale
    assert picture.shape == (2 * height, 4 * width, 3)    # input | 2 runs | ground truth
    below_label = slice(24, height)                         # the labels differ
    truth = picture[below_label, 3 * width:]
    for column in (1, 2):
        run = picture[below_label, column * width:(column + 1) * width].astype(int)
        assert np.abs(run - truth).max() <= 2, column      # rounding of 1/256 m ground truth
    assert np.abs(picture[below_label, :width].astype(int) - truth).mean() > 20  # the input


# ---------------------------------------------------------------- --decisive (issue 24)

def _brute_wilcoxon(values):
    """Two-sided exact p by enumerating every sign pattern (no ties in the tests' values)."""
    import itertools

    ranks = {abs(v): i + 1 for i, v in enumerate(sorted(values, key=abs))}
    w = sum(ranks[abs(v)] for v in values if v > 0)
    sums = [sum(r for r, s in zip(ranks.values(), signs) if s)
            for signs in itertools.product((0, 1), repeat=len(values))]
    low = sum(s <= w for s in sums) / len(sums)
    high = sum(s >= w for s in sums) / len(sums)
    return min(1.0, 2 * min(low, high))


@pytest.mark.parametrize('values', [[1, 2, 3, 4, 5], [1, -2, 3, 4, 5, 6, 7, 8],
                                    [-0.3, 0.1, -0.2, 0.05, 0.4, -0.15, 0.25, 0.35, -0.01]])
def test_wilcoxon_is_the_exact_signed_rank_test(values):
    assert paired.wilcoxon_p(values) == pytest.approx(_brute_wilcoxon(values))
    assert paired.wilcoxon_p([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    # zero dropped; |1| twice: mid-ranks 1.5, 1.5, then 3; W+ = 4.5 of 6; P(W+ >= 4.5) = 3/8
    assert paired.wilcoxon_p([1, -1, 2, 0]) == pytest.approx(0.75)


def test_interval_and_the_pre_registered_verdict():
    mean, low, high = paired.mean_interval([0.1, 0.2, 0.3])
    assert (mean, high - mean) == pytest.approx((0.2, 4.303 * 0.1 / 3 ** 0.5))
    assert paired.verdict([0.08, 0.09, 0.1, 0.07], 4)[0] == 'effect'
    assert paired.verdict([0.01, -0.01, 0.0, 0.02, -0.02, 0.01, 0.0, -0.01], 8)[0] == \
        'no paper-size effect'
    assert paired.verdict([0.1, -0.05, 0.2], 3)[0] == 'inconclusive'
    assert paired.verdict([0.08, 0.09, 0.1], 8)[0] == 'effect (partial: 3 of 8 pairs)'
    assert paired.verdict([0.08], 8) == ('not enough pairs yet', None)


def _paired_row(arm, seed, night, day=0.25, world='hard', **extra):
    return dict(run=f'{world}_{arm}_s{seed}', arm=arm, world=world, seed=seed, steps=150,
                resolution='64x128', experiment='decisive', day_abs_rel_full40=day,
                night_abs_rel_full40=night, day_abs_rel_full40_per_image=day,
                night_abs_rel_full40_per_image=night, invariance_gap_running=0.1,
                stalled=False, first_step_grad_norms={'photometric': 0.5, 'similarity': 2.0},
                **extra)


def test_paired_table_pairs_seeds_and_states_the_verdict():
    rows = [_paired_row('monodepth2_cyclegan', s, 0.30) for s in range(3)]
    rows += [_paired_row('adds_cyclegan', s, n) for s, n in enumerate((0.27, 0.28, 0.26))]
    rows.append(_paired_row('adds_cyclegan', 7, 0.1))          # no partner: not paired
    pairs = paired.paired_differences(rows)
    assert [p[0] for p in pairs] == [0, 1, 2]
    assert [p[3] for p in pairs] == pytest.approx([0.1, 2 / 30, 4 / 30])
    text = paired.tables(rows, range(8), {'source': 'w.pt', 'hash': 'sha256:ab'})
    assert '| 1 | 0.300 | 0.280 | +6.7 % |' in text
    assert 'Verdict: effect (partial: 3 of 8 pairs)' in text
    assert '0.5 / 2 (similarity) (seed 0)' in text and 'standard night' not in text


def test_reference_contrasts_pair_the_named_arms_in_the_stated_direction():
    """Candidate better than baseline, per column, over the seeds both arms have."""
    rows = [_paired_row('monodepth2_day', s, 0.40, day=0.20) for s in range(3)]
    rows += [_paired_row('monodepth2_cyclegan', s, n, day=0.25)
             for s, n in enumerate((0.30, 0.32, 0.34))]
    rows.append(_paired_row('adds_exact', 0, 0.2))              # one seed: no interval
    lines = paired.contrast_lines(rows)
    assert len(lines) == 3 and lines[2].startswith('| monodepth2_cyclegan vs monodepth2_day | 3 |')
    night, day = lines[2].split(' | ')[2:4]
    assert night.startswith('+20.0 % (') and day == '-25.0 % (-25.0 to -25.0)'
    assert paired.contrast_lines(rows[:3]) == []
    assert '| monodepth2_cyclegan vs monodepth2_day |' in paired.tables(
        rows, range(8), {'source': 'w.pt', 'hash': 'sha256:ab'})


def test_arm_runs_follow_the_plan(tmp_path):
    runs = paired.arm_runs([0, 1], tmp_path / 'warm.pt', 50)
    ids = [r.run_id for r in runs]
    assert ids[:4] == ['hard_monodepth2_cyclegan_s0', 'hard_adds_cyclegan_s0',
                       'hard_monodepth2_cyclegan_s1', 'hard_adds_cyclegan_s1']
    assert ids[4] == 'hard_monodepth2_day_s0' and ids[8].startswith('standard_')
    assert len(runs) == 2 * 4 * 2
    by_id = {r.run_id: r for r in runs}
    assert f'init_from={tmp_path / "warm.pt"}' in by_id['standard_monodepth2_day_s1'].words
    assert 'twin_pose=day' in by_id['hard_monodepth2_cyclegan_s0'].words
    assert 'aux_ramp_steps=50' in by_id['hard_adds_exact_s1'].words
    assert not any(w.startswith('aux_ramp') for w in by_id['hard_monodepth2_day_s0'].words)
    for r in runs:  # every arm's words are a valid config
        load_config(str(ablation.CONFIG),
                    [f'mode={r.mode}'] + [w for w in r.words if not w.startswith('init_from')])


@pytest.mark.parametrize('val, signal, ok', [(0.25, 0.05, True), (0.35, 0.05, False),
                                             (0.25, 0.03, False), (0.25, None, False)])
def test_warm_start_acceptance_rule(tmp_path, val, signal, ok):
    (tmp_path / 'train.log').write_text(
        'noise\ndone: ' + repr({'best_val_abs_rel': val, 'translation_to_depth': signal,
                                'best_step': 540}) + '\n')
    assert paired.accept_warm_start(tmp_path)[0] is ok
    (tmp_path / 'summary.json').write_text(json.dumps(
        {'best_val_abs_rel': 0.2, 'translation_to_depth': 0.05, 'best_step': 60}))
    assert paired.accept_warm_start(tmp_path) == (True, {'val_abs_rel': 0.2,
                                                         'translation_to_depth': 0.05,
                                                         'best_step': 60})


def test_invariance_gap_is_zero_when_only_nothing_changes(tmp_path):
    import shutil

    import torch

    from adds_training.checkpoint import checkpoint_dict, save_checkpoint
    from adds_training.networks import ADDSModel
    from test_trainer_support import make_tiny_dataset

    root = make_tiny_dataset(tmp_path / 'tiny')
    torch.manual_seed(0)
    model = ADDSModel().eval()
    save_checkpoint(tmp_path / 'm.pt', checkpoint_dict(
        model, {'min_depth': 0.1, 'max_depth': 100.0, 'height': 64, 'width': 128}))
    dimmed = paired.invariance_gap(tmp_path / 'm.pt', root, 64, 128, split='val_day')
    shutil.rmtree(root / 'seq_fake_night')
    shutil.copytree(root / 'seq', root / 'seq_fake_night')
    assert paired.invariance_gap(tmp_path / 'm.pt', root, 64, 128, split='val_day') == 0
    assert dimmed > 0


def test_decisive_needs_prepared_worlds(tmp_path):
    parser = argparse.ArgumentParser()
    ablate_command.add_arguments(parser)
    args = parser.parse_args(['--out', str(tmp_path), '--decisive', '--worlds', str(tmp_path)])
    with pytest.raises(UserError, match='no prepared world'):
        ablate_command.run(args)


def test_decisive_list_prints_the_plan_without_training(tmp_path, capsys):
    for world in paired.WORLDS:
        (tmp_path / world / 'synth_cg' / 'splits').mkdir(parents=True)
        (tmp_path / world / 'synth_cg' / 'splits' / 'train.txt').write_text('')
    parser = argparse.ArgumentParser()
    ablate_command.add_arguments(parser)
    args = parser.parse_args(['--out', str(tmp_path / 'out'), '--decisive', '--worlds',
                              str(tmp_path), '--seeds', '0', '1', '--steps', '150', '--list'])
    assert ablate_command.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 16 and lines[0].startswith('hard_monodepth2_cyclegan_s0 ')
    assert f'init_from={tmp_path / "out" / "init" / "warm_start.pt"}' in lines[0]
    assert 'grad_norm_every=150' in lines[0] and 'max_steps=150' in lines[0]
    assert f'data_root={tmp_path / "standard" / "synth"} ' in lines[-1]  # exact twins
    assert not (tmp_path / 'out' / 'warm').exists()

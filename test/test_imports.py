# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Each package's modules import each other without cycles (adds_ros and adds_training).

Every import counts, at module level and inside functions alike: a deferred import hides a
cycle from Python but not from the reader (networks that call the losses, evaluation that
imports the trainer for a helper). The graph is read from the source with `ast`, so the check
needs neither torch nor an import of the package.
"""

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {'adds_ros': ROOT / 'adds_ros', 'adds_training': ROOT / 'training'}
Graph = Dict[str, Set[str]]


def module_name(root: Path, package: str, path: Path) -> str:
    """Return the dotted name of a source file (a package's `__init__.py` is the package)."""
    parts = path.relative_to(root).with_suffix('').parts
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join((package,) + parts)


def lazy_exports(tree: ast.Module) -> Dict[str, str]:
    """Name -> submodule of a package that resolves its names lazily (`_EXPORTS = {...}`)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_EXPORTS' for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _targets(node: ast.AST, module: str, is_package: bool, modules: Set[str],
             exports: Dict[str, Dict[str, str]]) -> Iterator[str]:
    """Yield the package modules one import statement loads (the nearest existing ones)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split('.')
            while parts and '.'.join(parts) not in modules:
                parts.pop()
            if parts:
                yield '.'.join(parts)
        return
    base = node.module or ''
    if node.level:
        parts = module.split('.')[:None if is_package else -1]
        parts = parts[:len(parts) - node.level + 1]
        base = '.'.join(parts + ([node.module] if node.module else []))
    for alias in node.names:
        if f'{base}.{alias.name}' in modules:
            yield f'{base}.{alias.name}'
        elif alias.name in exports.get(base, {}):
            yield f'{base}.{exports[base][alias.name]}'
        elif base in modules:
            yield base


def import_graph(root: Path, package: str) -> Graph:
    """Module -> package modules it imports anywhere in its source."""
    trees = {}
    for path in sorted(root.rglob('*.py')):
        trees[module_name(root, package, path)] = (ast.parse(path.read_text(), str(path)),
                                                   path.name == '__init__.py')
    modules = set(trees)
    exports = {name: lazy_exports(tree) for name, (tree, _) in trees.items()}
    graph: Graph = {}
    for name, (tree, is_package) in trees.items():
        graph[name] = {target for node in ast.walk(tree)
                       if isinstance(node, (ast.Import, ast.ImportFrom))
                       for target in _targets(node, name, is_package, modules, exports)
                       if target != name}
    return graph


def cycles(graph: Graph) -> List[List[str]]:
    """Return cycles as paths back to their start: one per module not on a cycle found before."""
    found, done = [], set()
    for start in sorted(graph):
        if start in done:
            continue
        paths = {start: [start]}
        frontier = [start]
        while frontier:  # breadth first: the shortest way back to `start`
            node = frontier.pop(0)
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    cycle = paths[node] + [start]
                    found.append(cycle)
                    done.update(cycle)
                    frontier = []
                    break
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    frontier.append(nxt)
    return found


def test_checker_finds_cycles_through_deferred_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / 'pkg'
    (pkg / 'nets').mkdir(parents=True)
    files = {
        '__init__.py': '',
        'helpers.py': 'import os\n',
        'losses.py': 'from pkg.nets import Model\nfrom . import helpers\n',
        'nets/__init__.py': "_EXPORTS = {'Model': 'model'}\n",
        'nets/model.py': 'def forward():\n    from ..losses import loss\n    return loss\n',
        'trainer.py': 'import pkg.helpers\n\n\ndef run():\n    from pkg import evaluate\n',
        'evaluate.py': 'def score():\n    from pkg.trainer import run\n',
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(pkg, 'pkg')
    assert graph['pkg.losses'] == {'pkg.nets.model', 'pkg.helpers'}
    assert graph['pkg.nets.model'] == {'pkg.losses'}
    assert graph['pkg.trainer'] == {'pkg.helpers', 'pkg.evaluate'}
    assert cycles(graph) == [['pkg.evaluate', 'pkg.trainer', 'pkg.evaluate'],
                             ['pkg.losses', 'pkg.nets.model', 'pkg.losses']]
    (pkg / 'evaluate.py').write_text('def score():\n    from pkg.helpers import os\n')
    (pkg / 'nets/model.py').write_text('import torch\n')
    assert cycles(import_graph(pkg, 'pkg')) == []


@pytest.mark.parametrize('package,module', [('adds_training', 'adds_training.networks.adds'),
                                            ('adds_ros', 'adds_ros.backends.tensorrt_backend')])
def test_package_has_no_import_cycles(package, module):
    graph = import_graph(PACKAGES[package], package)
    assert module in graph and len(graph) > 30
    found = cycles(graph)
    assert not found, f'import cycles among {package} modules:\n' + '\n'.join(
        ' -> '.join(cycle) for cycle in found)

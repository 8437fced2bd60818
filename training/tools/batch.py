# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Many inputs, one command: independent tasks on a local process pool or a Ray cluster.

`adds bag-depth`, `adds prepare`, `adds gt` and `adds cyclegan translate` take many inputs (a
list, a glob, a folder of inputs) and hand them here as `Task`s with a `Job` that says what one
task does. The driver (the process that runs the command) keeps a manifest (JSON, rewritten
atomically at every change) of each input's status, output, counts, time, attempts and error;
a task whose output is already complete is skipped, so a rerun resumes. Tasks run one at a time
per worker: a local worker is a spawned process (one per GPU with `--gpus`, else `--jobs` CPU
workers, no service needed); with `--ray` a worker is a Ray actor placed with its CPU/GPU
request anywhere in a cluster. Either way a worker keeps what its job loaded (the depth model,
the generator) across the many inputs it serves.

Faults: an error in a task is recorded and the other tasks go on. A worker that dies (SIGKILL,
out of memory, a lost machine) costs its task an attempt: the worker is replaced and the task
goes back to the queue, to the next free worker. Every attempt first removes what an
interrupted attempt left (outputs are written atomically, so that is only hidden temporary
files and folders). A task that fails the same way twice, or `max_attempts` times in all, is
marked failed in the manifest with its error. The exit status says whether every task
succeeded.
"""

import argparse
import contextlib
import dataclasses
import datetime
import glob
import json
import logging
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing import connection
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

from tqdm import tqdm

from adds_ros import cli_config
from adds_ros.atomic import write_text_atomic
from adds_ros.errors import UserError
from adds_ros.settings import check, param

LOGGER = logging.getLogger(__name__)
MANIFEST_VERSION = 1
DONE, SKIPPED, FAILED, PENDING, RUNNING = 'done', 'skipped', 'failed', 'pending', 'running'
SUCCEEDED = (DONE, SKIPPED)


@dataclass(frozen=True)
class Task:
    """One input of a batch and the output it becomes; `input` is the manifest's key."""

    input: str
    output: str


class Job:
    """What a command does with one task: pickled to every worker, which reuses it.

    Subclasses hold their settings as attributes and may keep what they load (a model) in
    another, empty in the driver: each worker loads its own copy once, on its first task.
    """

    command = ''
    unit = 'frame'  # what `run`'s counts['frames'] counts, for the throughput line

    def run(self, task: Task) -> Dict[str, Any]:
        """Produce the task's output atomically; return JSON-able counts with a 'frames' key."""
        raise NotImplementedError

    def complete(self, task: Task, record: Optional[dict]) -> bool:
        """Say whether the output is finished, so the task is skipped.

        By default: the manifest says it succeeded and the output is still there.
        """
        return bool(record) and record.get('status') in SUCCEEDED and Path(task.output).exists()

    def leftovers(self, task: Task) -> List[Path]:
        """Hidden temporary files or folders an interrupted attempt of `task` can leave."""
        return []

    def close(self) -> None:
        """Release what the worker loaded."""


def hidden_temporaries(folder: Path, name: str = '*') -> List[Path]:
    """Entries `.<name>.<random>...` that `adds_ros.atomic` and BagWriter write before renaming."""
    return sorted(Path(folder).glob(f'.{name}.*')) if Path(folder).is_dir() else []


def remove_leftovers(job: Job, task: Task) -> None:
    """Delete what an interrupted attempt of `task` left behind (never a finished output)."""
    for path in job.leftovers(task):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def describe_error(err: BaseException) -> str:
    """One line: a UserError's message as it is, anything else with its type in front."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ''
    line = text if isinstance(err, UserError) else f'{type(err).__name__}: {text}'.rstrip(': ')
    return line[:500]


def execute(job: Job, task: Task) -> dict:
    """Run one attempt of `task` in a worker; never raises (the outcome carries the error)."""
    start = time.monotonic()
    try:
        remove_leftovers(job, task)
        counts = job.run(task)
    except Exception as err:  # noqa: BLE001 - any failure is this task's, not the worker's
        LOGGER.debug(f'{task.input}: {describe_error(err)}', exc_info=True)
        return dict(ok=False, error=describe_error(err), seconds=time.monotonic() - start)
    return dict(ok=True, counts=counts, seconds=time.monotonic() - start)


class _NotATerminal:
    """A worker's sys.stderr, which says it is no terminal.

    So its tasks' own progress bars stay off (they would tear the driver's overall bar), while
    its log lines still reach the terminal.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _worker_setup(command: str, level: int) -> None:
    from adds_ros.log import setup_logging
    sys.stderr = _NotATerminal(sys.stderr)
    setup_logging(command, level)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _local_worker(conn: connection.Connection, payload: bytes, gpu: Optional[int],
                  level: int) -> None:
    """Serve a local worker process: one task at a time from `conn` until it sends None."""
    if gpu is not None:  # before the job (and so any CUDA library) is unpickled
        os.environ['CUDA_VISIBLE_DEVICES'] = str(gpu)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    # The driver's SIGTERM unwinds the task: its `with` blocks end its own processes (a frame
    # pool) and remove what it was writing.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        job = pickle.loads(payload)
        _worker_setup(job.command, level)
    except Exception as err:  # noqa: BLE001 - e.g. the job's module does not import here
        conn.send(describe_error(err))
        return
    conn.send(None)  # ready
    try:
        while True:
            task = conn.recv()
            if task is None:
                break
            conn.send(execute(job, task))
    except (EOFError, OSError):  # the driver went away
        pass
    except KeyboardInterrupt as err:  # the driver's SIGTERM: say what the task cleaned up
        LOGGER.warning(f'worker stopped: {err}' if str(err) else 'worker stopped')
    finally:
        job.close()


def _exit_reason(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return f'exit status {code}'


class LocalPool:
    """Spawned worker processes, one task each at a time; a dead one is replaced."""

    def __init__(self, job: Job, size: int, gpus: int = 0, level: int = logging.INFO) -> None:
        self.context = multiprocessing.get_context('spawn')  # no inherited threads or CUDA
        self.payload = pickle.dumps(job)
        self.gpus, self.level = gpus, level
        self.size = size
        self.workers = [self._spawn(slot) for slot in range(size)]
        try:
            for process, conn in self.workers:  # they start side by side
                self._await_ready(process, conn)
        except BaseException:
            self.close(wait=False)
            raise

    def _spawn(self, slot: int) -> Tuple[Any, connection.Connection]:
        ours, theirs = self.context.Pipe()
        gpu = slot % self.gpus if self.gpus else None
        process = self.context.Process(target=_local_worker, name=f'adds-batch-{slot}',
                                       args=(theirs, self.payload, gpu, self.level))
        process.start()
        theirs.close()
        return process, ours

    @staticmethod
    def _await_ready(process: Any, conn: connection.Connection) -> None:
        """Wait until a worker has imported and unpickled its job; raise if it cannot."""
        connection.wait([conn, process.sentinel])
        try:
            error = conn.recv()
        except (EOFError, OSError):
            process.join(5)
            error = f'it exited ({_exit_reason(process.exitcode)})'
        if error is not None:
            raise UserError(f'a batch worker could not start: {error}')

    def where(self, slot: int) -> dict:
        return dict(host=socket.gethostname(), pid=self.workers[slot][0].pid)

    def submit(self, slot: int, task: Task) -> None:
        self.workers[slot][1].send(task)

    def wait(self, busy: Sequence[int]) -> Tuple[int, dict]:
        """Block until a busy worker answers or dies; return its slot and the outcome."""
        handles = {}
        for slot in busy:
            process, conn = self.workers[slot]
            handles[conn] = handles[process.sentinel] = slot
        slot = handles[connection.wait(list(handles))[0]]
        process, conn = self.workers[slot]
        try:
            if conn.poll():
                return slot, conn.recv()
        except (EOFError, OSError):
            pass
        process.join(5)
        return slot, dict(ok=False, died=True, seconds=0.0,
                          error=f'worker died ({_exit_reason(process.exitcode)})')

    def replace(self, slot: int) -> None:
        process, conn = self.workers[slot]
        conn.close()
        if process.is_alive():
            process.kill()
        process.join()
        self.workers[slot] = self._spawn(slot)
        self._await_ready(*self.workers[slot])

    def close(self, wait: bool = True) -> None:
        """Let idle workers finish (`wait`), else stop them mid-task at once."""
        for process, conn in self.workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for process, conn in self.workers:
            process.join(10 if wait else 0)
            if process.is_alive():  # SIGTERM: a bag writer removes its partial bag
                process.terminate()
                process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()


class RayWorker:
    """A Ray actor's body: holds the job (and what it loads) for every task it is given."""

    def __init__(self, payload: bytes, level: int) -> None:
        self.job = pickle.loads(payload)
        _worker_setup(self.job.command, level)

    def where(self) -> dict:
        return dict(host=socket.gethostname(), pid=os.getpid())

    def run(self, task: Task) -> dict:
        return execute(self.job, task)

    def close(self) -> None:
        self.job.close()


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError('--ray needs Ray: pip install "adds_ros[cluster]" (or pip install '
                        'ray)') from None
    return ray


class RayPool:
    """Ray actors, each asking for `cpus` CPUs and a share of `gpus` GPUs.

    `size` actors share `gpus` GPUs: one GPU each, or a fraction when there are more actors than
    GPUs (Ray places fractional requests together), so several workers can feed one GPU.
    """

    def __init__(self, job: Job, size: int, address: str, gpus: int = 0, cpus: float = 1.0,
                 level: int = logging.INFO, start_timeout_s: float = 120.0) -> None:
        self.ray = import_ray()
        self.owner = not self.ray.is_initialized()
        if self.owner:  # an already connected driver (a test, a notebook) is used as it is
            try:
                self.ray.init(**ray_init_options(address, size, gpus, cpus))
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise UserError(f'--ray {address}: {describe_error(err)} (start a cluster with '
                                '`ray start --head`, or use --ray local)') from None
        self.request = dict(num_cpus=cpus, num_gpus=min(1.0, gpus / size))
        self.remote = self.ray.remote(RayWorker).options(**self.request, max_restarts=0)
        self.payload, self.level, self.timeout = pickle.dumps(job), level, start_timeout_s
        self.size = size
        self.actors: List[Any] = [None] * size
        self.places: List[dict] = [{}] * size
        self.pending: Dict[Any, int] = {}
        try:
            self._start(range(size))
        except BaseException:
            self.close(wait=False)
            raise

    def _start(self, slots: Sequence[int]) -> None:
        """Start actors for `slots` together; wait until Ray has placed every one."""
        for slot in slots:
            self.actors[slot] = self.remote.remote(self.payload, self.level)
        try:
            places = self.ray.get([self.actors[s].where.remote() for s in slots],
                                  timeout=self.timeout)
        except self.ray.exceptions.GetTimeoutError:
            raise UserError(f'Ray could not place {len(slots)} workers asking for '
                            f'{self.request} each within {self.timeout:.0f} s; the cluster has '
                            f'{self.ray.cluster_resources()}') from None
        except self.ray.exceptions.RayError as err:  # the actor could not load the job
            raise UserError(f'a batch worker could not start: {describe_error(err)}') from None
        for slot, place in zip(slots, places):
            self.places[slot] = place

    def where(self, slot: int) -> dict:
        return self.places[slot]

    def submit(self, slot: int, task: Task) -> None:
        self.pending[self.actors[slot].run.remote(task)] = slot

    def wait(self, busy: Sequence[int]) -> Tuple[int, dict]:
        [ref], _ = self.ray.wait(list(self.pending), num_returns=1)
        slot = self.pending.pop(ref)
        try:
            return slot, self.ray.get(ref)
        except self.ray.exceptions.RayError as err:  # the actor or its node is gone
            return slot, dict(ok=False, died=True, seconds=0.0,
                              error=f'worker died ({type(err).__name__})')

    def replace(self, slot: int) -> None:
        self.ray.kill(self.actors[slot], no_restart=True)
        self._start([slot])

    def close(self, wait: bool = True) -> None:
        """Let the actors release their models (`wait`), then end them."""
        if wait:
            try:
                self.ray.get([actor.close.remote() for actor in self.actors], timeout=30)
            except Exception:  # noqa: BLE001 - a dead or stuck actor is killed below anyway
                pass
        for actor in self.actors:
            if actor is not None:
                self.ray.kill(actor)
        if self.owner:
            self.ray.shutdown()


def ray_init_options(address: str, jobs: int, gpus: int, cpus: float) -> dict:
    """`ray.init` arguments: join a cluster ('auto' or HOST:PORT) or start one here ('local')."""
    options: Dict[str, Any] = dict(include_dashboard=False, log_to_driver=True)
    if address == 'local':  # a new instance, even beside a cluster this machine already runs
        options.update(address='local', num_cpus=max(1, int(round(jobs * cpus))), num_gpus=gpus)
    else:
        options['address'] = address
    return options


@dataclass
class BatchConfig:
    manifest: Path
    jobs: int = 1                  # tasks at a time: local processes or Ray actors
    gpus: int = 0                  # GPUs the workers share: worker i on GPU i % gpus
    ray: Optional[str] = None      # None: local pool; 'auto', 'HOST:PORT' or 'local': Ray
    cpus_per_job: float = 1.0      # Ray CPU request per worker
    max_attempts: int = 3
    level: int = logging.INFO      # workers' log level (`adds -v` passes DEBUG)


@dataclass
class BatchReport:
    records: Dict[str, dict]
    seconds: float
    frames: int = 0
    ran: int = 0                   # tasks run by this call; the others were complete already
    startup_s: float = 0.0         # starting the workers (processes, or Ray and its actors)
    failed: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class Manifest:
    """The JSON record of a batch: one entry per input, rewritten atomically on every change."""

    def __init__(self, path: Path, command: str) -> None:
        self.path, self.command = Path(path), command
        self.records: Dict[str, dict] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            records, command = data['tasks'], data['command']
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f'{self.path}: not a batch manifest ({describe_error(err)}); move '
                            'it away or pass another --manifest') from None
        if command != self.command:
            raise UserError(f'{self.path} is the manifest of `adds {command}`, not of '
                            f'`adds {self.command}`; pass another --manifest')
        self.records = records

    def save(self) -> None:
        counts: Dict[str, int] = {}
        for record in self.records.values():
            counts[record['status']] = counts.get(record['status'], 0) + 1
        data = dict(command=self.command, version=MANIFEST_VERSION, updated=_now(),
                    summary=counts, tasks=self.records)
        write_text_atomic(self.path, json.dumps(data, indent=1) + '\n')

    def set(self, task: Task, **values: Any) -> dict:
        record = self.records.setdefault(task.input, {})
        record.update(input=task.input, output=task.output, **values)
        return record


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def failed_for_good(errors: Sequence[str], max_attempts: int) -> bool:
    """Give up when the last two attempts failed the same way, or after `max_attempts`."""
    return len(errors) >= max_attempts or (len(errors) >= 2 and errors[-1] == errors[-2])


def make_pool(job: Job, cfg: BatchConfig) -> Any:
    size = max(1, cfg.jobs)
    if cfg.ray:
        return RayPool(job, size, cfg.ray, cfg.gpus, cfg.cpus_per_job, cfg.level)
    return LocalPool(job, size, cfg.gpus, cfg.level)


class _Driver:
    """Hands tasks to free workers, retries, and keeps the manifest and the progress bar."""

    def __init__(self, job: Job, cfg: BatchConfig, manifest: Manifest, pool: Any,
                 bar: tqdm, todo: Sequence[Task]) -> None:
        self.job, self.cfg, self.manifest, self.pool, self.bar = job, cfg, manifest, pool, bar
        self.queue: Deque[Task] = deque(todo)
        self.errors: Dict[str, List[str]] = {task.input: [] for task in todo}
        self.frames = 0

    def run(self) -> None:
        idle: Deque[int] = deque(range(self.pool.size))
        running: Dict[int, Task] = {}
        while self.queue or running:
            while self.queue and idle:
                slot, task = idle.popleft(), self.queue.popleft()
                self.pool.submit(slot, task)
                running[slot] = task
                self.manifest.set(task, status=RUNNING, worker=self.pool.where(slot),
                                  started=_now(), attempts=len(self.errors[task.input]) + 1)
                self.manifest.save()
            slot, outcome = self.pool.wait(list(running))
            task = running.pop(slot)
            if outcome.get('died'):
                LOGGER.warning(f'{task.input}: {outcome["error"]} on {self.pool.where(slot)}')
                self.pool.replace(slot)
            idle.append(slot)  # last in line: a retry goes to another worker when one is free
            if not self._finish(task, outcome):
                self.queue.append(task)
            self.manifest.save()

    def _finish(self, task: Task, outcome: dict) -> bool:
        """Record an attempt's outcome; return False when the task should run again."""
        errors = self.errors[task.input]
        common = dict(seconds=round(outcome['seconds'], 3), finished=_now())
        if outcome['ok']:
            counts = outcome['counts']
            self.manifest.set(task, status=DONE, counts=counts, error=None,
                              attempts=len(errors) + 1, **common)
            self.frames += int(counts.get('frames', 0))
            self.bar.update(1)
            self.bar.set_postfix_str(f'{self.frames} {self.job.unit}s')
            LOGGER.debug(f'done {task.input} -> {task.output} in {outcome["seconds"]:.1f} s: '
                         f'{counts}')
            return True
        errors.append(outcome['error'])
        if not failed_for_good(errors, self.cfg.max_attempts):
            LOGGER.warning(f'{task.input}: attempt {len(errors)} failed ({outcome["error"]}); '
                           'retrying')
            self.manifest.set(task, status=PENDING, error=outcome['error'])
            return False
        remove_leftovers(self.job, task)
        self.manifest.set(task, status=FAILED, error=outcome['error'], attempts=len(errors),
                          errors=list(errors), **common)
        self.bar.update(1)
        LOGGER.warning(f'failed {task.input}: {outcome["error"]}')
        return True


def plan(job: Job, tasks: Sequence[Task], manifest: Manifest) -> List[Task]:
    """Return the tasks to run; record the others (output already complete) as succeeded."""
    todo = []
    for task in tasks:
        record = manifest.records.get(task.input)
        if job.complete(task, record):
            if not (record and record.get('status') in SUCCEEDED):  # e.g. an earlier plain run
                manifest.set(task, status=SKIPPED, error=None, counts={})
            LOGGER.debug(f'already done: {task.input} -> {task.output}')
        else:
            manifest.set(task, status=PENDING, error=None, attempts=0)
            todo.append(task)
    return todo


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While workers run, SIGTERM (timeout, docker stop, systemd) unwinds as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_batch(job: Job, tasks: Sequence[Task], cfg: BatchConfig) -> BatchReport:
    """Run every task not already complete; return the records (the manifest's tasks)."""
    start = time.monotonic()
    manifest = Manifest(cfg.manifest, job.command)
    todo = plan(job, tasks, manifest)
    manifest.save()
    report = BatchReport(records={}, seconds=0.0, ran=len(todo))
    if todo:
        with _sigterm_interrupts(), tqdm(total=len(todo), desc=job.command, unit='input',
                                         dynamic_ncols=True,
                                         disable=not sys.stderr.isatty()) as bar:
            pool = make_pool(job, dataclasses.replace(cfg, jobs=min(cfg.jobs, len(todo))))
            report.startup_s = time.monotonic() - start
            driver = _Driver(job, cfg, manifest, pool, bar, todo)
            try:
                driver.run()
            except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: stop the workers now
                pool.close(wait=False)
                _requeue_unfinished(job, manifest, todo)
                left = sum(manifest.records[t.input]['status'] == PENDING for t in todo)
                raise KeyboardInterrupt(f'{str(err) or "Ctrl-C"}: {left} input'
                                        f'{"" if left == 1 else "s"} left pending in '
                                        f'{cfg.manifest}; rerun to continue') from None
            except BaseException:
                pool.close(wait=False)
                _requeue_unfinished(job, manifest, todo)
                raise
            pool.close()
            report.frames = driver.frames
    keys = [task.input for task in tasks]
    report.records = {key: manifest.records[key] for key in keys}
    report.failed = [key for key in keys if report.records[key]['status'] == FAILED]
    report.seconds = time.monotonic() - start
    return report


def _requeue_unfinished(job: Job, manifest: Manifest, todo: Sequence[Task]) -> None:
    """After an interrupt: running tasks go back to pending, their leftovers removed."""
    changed = False
    for task in todo:
        if manifest.records[task.input]['status'] == RUNNING:
            remove_leftovers(job, task)
            manifest.set(task, status=PENDING, error='interrupted')
            changed = True
    if changed:
        manifest.save()


# ---- the command line: inputs, options, summary ------------------------------------------


def has_glob(text: str) -> bool:
    return any(c in text for c in '*?[')


def expand_inputs(items: Sequence[str], is_input: Callable[[Path], bool], what: str
                  ) -> List[Path]:
    """Collect inputs from paths, globs and folders of inputs (their sub-folders that are)."""
    found: List[Path] = []
    for item in items:
        paths = [Path(p) for p in sorted(glob.glob(item))] if has_glob(item) else [Path(item)]
        if not paths:
            raise UserError(f'{item} matches no {what}')
        for path in paths:
            if is_input(path):
                found.append(path)
            elif path.is_dir():
                inner = [p for p in sorted(path.iterdir()) if is_input(p)]
                if not inner:
                    raise UserError(f'{path} is neither a {what} nor a folder of them')
                found.extend(inner)
            elif not has_glob(item):
                raise UserError(f'{path}: no such {what}')
    unique = {p.resolve(): p for p in reversed(found)}  # the first spelling of each input
    return [p for p in found if unique[p.resolve()] is p]


def is_batch(items: Sequence[str], is_input: Callable[[Path], bool]) -> bool:
    """More than one input, or a glob / folder of inputs: run as a batch, else as before."""
    return len(items) > 1 or (has_glob(items[0]) or (Path(items[0]).is_dir()
                                                     and not is_input(Path(items[0]))))


def tasks_into(inputs: Sequence[Path], out_dir: Path,
               name: Callable[[Path], str] = lambda p: p.name) -> List[Task]:
    """Make one task per input, its output `out_dir/<name>`; two may not share a name.

    Paths are made absolute: they are the manifest's keys, the same from any folder.
    """
    seen: Dict[str, Path] = {}
    tasks = []
    for path in inputs:
        key = name(path)
        if key in seen:
            raise UserError(f'{seen[key]} and {path} would both write {Path(out_dir) / key}')
        seen[key] = path
        tasks.append(Task(input=str(path.absolute()), output=str(Path(out_dir).absolute() / key)))
    return tasks


@dataclass
class BatchOptions:
    """The options every many-input command shares, declared once (docs/bags.md, "Many inputs")."""

    jobs: Optional[int] = param(None, 'inputs at a time (worker processes or Ray actors); '
                                'default 1, or one per GPU with --gpus', (1, 1 << 20))
    gpus: int = param(0, 'use K GPUs: local GPUs 0..K-1 (worker i on GPU i mod K), or K GPUs of '
                      'the Ray cluster; one worker per GPU unless --jobs says more', (0, 1 << 20))
    ray: Optional[str] = param(None, "run on Ray: 'auto' joins the running cluster (ray start), "
                               "HOST:PORT a given one, 'local' starts one here")
    cpus_per_job: float = param(1.0, 'CPUs a Ray worker asks for', (1e-3, math.inf))
    manifest: Optional[Path] = param(None, 'batch manifest JSON (default: manifest-<command>.json'
                                     ' in the output folder)')

    def __post_init__(self) -> None:
        check(self, 'option')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every many-input command shares, as a group of its help."""
    group = parser.add_argument_group('many inputs (docs/bags.md, "Many inputs")')
    cli_config.add_options(group, BatchOptions, extra={  # type: ignore[arg-type]
        name: {'metavar': metavar} for name, metavar in
        (('jobs', 'N'), ('gpus', 'K'), ('ray', 'ADDRESS'), ('cpus_per_job', 'C'))})


def config_from_args(args: argparse.Namespace, default_manifest: Path) -> BatchConfig:
    """Build the batch config from the shared options; `adds -v` reaches the workers too."""
    options = cli_config.build_checked(BatchOptions, args)
    return BatchConfig(**dict(dataclasses.asdict(options),
                              manifest=options.manifest or default_manifest,
                              jobs=options.jobs or max(1, options.gpus)),
                       level=logging.getLogger('adds_training').getEffectiveLevel())


def summary(report: BatchReport, command: str, unit: str, manifest: Path) -> str:
    """Return the result line: statuses, and throughput over the tasks this run executed."""
    total, failed = len(report.records), len(report.failed)
    already = total - report.ran
    line = (f'{command}: {total} inputs: {report.ran - failed} done, {already} already done, '
            f'{failed} failed')
    if report.ran and report.seconds > 0:
        line += (f'; {report.frames} {unit}s in {report.seconds:.1f} s '
                 f'({report.frames / report.seconds:.1f} {unit}s/s, '
                 f'{report.ran * 3600 / report.seconds:.0f} inputs/h; workers started in '
                 f'{report.startup_s:.1f} s)')
    return f'{line}; manifest {manifest}'


def run_command(job: Job, tasks: Sequence[Task], cfg: BatchConfig) -> int:
    """Run a batch for a command: print the summary, exit 0 only if every input succeeded."""
    report = run_batch(job, tasks, cfg)
    print(summary(report, job.command, job.unit, cfg.manifest))
    for key in report.failed:
        print(f'failed: {key}: {report.records[key]["error"]}', file=sys.stderr)
    return 0 if report.ok else 1

"""Seeded experiment sweeps that lose nothing: every (setting, seed) pair, kept as it finishes.

:func:`sweep` runs ``run(config, key)`` for every setting of a grid and every seed and
returns one row per pair: the config, its ``seed`` and what ``run`` returned. The key is
``fnn.random.key(seed)`` and nothing else reaches ``run``, so for a ``run`` that depends on
its arguments only, a row is a function of (config, seed): the rows are the same, bit for
bit, whichever executor runs them, with however many workers, in whatever order the work
finishes, and however often the sweep was interrupted and rerun. (Across machines, that
also takes the same NumPy build and CPU kernels: BLAS libraries pick their summation order
by CPU.)

Work leaves this process as plain values: ``run`` by reference (its module and qualified
name, which the worker imports: no code travels), the config, the seed and the pair's
working directory; the worker builds the key itself. A lambda or a function defined inside
another function has no name to import by, so it is refused whenever the work leaves this
process. A ``functools.partial`` or a callable object travels pickled, its function or
class by name.

**Executors.**

- ``executor=None``: fnn's own local process pool (``fnn.sweep._pool``), started and ended
  by :func:`sweep`. It knows which pair each worker runs, so a worker that dies fails its
  own pair (and a new worker runs the rest), ``timeout=`` ends an overdue run's worker,
  Ctrl-C ends every worker at once, and a killed sweep leaves no worker behind.
- :class:`SerialExecutor` (in this thread; for debugging, doctests and ``pdb``) or a
  :class:`concurrent.futures.ThreadPoolExecutor`: work stays in this process.
- any other :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
  ``distributed.Client(...).get_executor()`` (the cluster retries the tasks of a lost
  worker; a task that keeps failing comes back as ``KilledWorker``). fnn never shuts down an
  executor it was given.

**Nothing lost.** ``store=PATH`` keeps every finished row in an SQLite file
(:mod:`fnn.sweep.store`), committed as its run finishes; the same call again returns the
stored rows and runs only the pairs still missing. ``on_error="record"`` makes a failure
(an exception, a dead worker, a timeout) a row with ``status="error"`` and goes on.
``workdirs=DIR`` gives each pair a directory of its own, the same on every rerun, for
``fnn.fit(..., resume=workdir)``, so that an interrupted run goes on from its last
checkpoint. ``progress=True`` shows finished, failed and remaining pairs.

**Random search.** :func:`fnn.sweep.space.random_search` draws configs from a space with an
fnn key (the same configs on any machine); the list is a grid like any other.

:func:`sweep_summary` groups the rows (or a store's rows) by setting and reports the mean
and standard deviation of every numeric result across seeds, as a list of dicts or a
pandas DataFrame.

The names here are imported from the package, ``from fnn.sweep import space, store``
(``fnn.sweep`` itself is the function).

>>> import fnn
>>> from fnn.sweep import SerialExecutor
>>> def run(config, key):
...     return {"draw": float(fnn.random.uniform(key)) * config["scale"]}
>>> rows = fnn.sweep(run, {"scale": [1, 100]}, 2, executor=SerialExecutor())
>>> [(r["scale"], r["seed"]) for r in rows]
[(1, 0), (1, 1), (100, 0), (100, 1)]
>>> [r["seeds"] for r in fnn.sweep_summary(rows)]
[2, 2]
"""

from fnn.sweep import space, store
from fnn.sweep._core import sweep
from fnn.sweep._serial import SerialExecutor
from fnn.sweep.space import Choice, Integer, LogUniform, Uniform, random_search
from fnn.sweep.store import pair_dir, stored_rows
from fnn.sweep.summary import sweep_summary

__all__ = [
    "sweep",
    "sweep_summary",
    "SerialExecutor",
    "space",
    "store",
    "random_search",
    "Uniform",
    "LogUniform",
    "Integer",
    "Choice",
    "stored_rows",
    "pair_dir",
]

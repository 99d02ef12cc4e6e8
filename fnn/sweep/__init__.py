"""Seeded experiment sweeps: every (setting, seed) pair, in a process pool, a thread or on a cluster.

:func:`sweep` runs ``run(config, key)`` for every setting of a grid and every seed and
returns one row per pair: the config, its ``seed`` and what ``run`` returned. The key is
``fnn.random.key(seed)`` and nothing else reaches ``run``, so for a ``run`` that depends on
its arguments only, a row is a function of (config, seed): the rows are the same, bit for
bit, whichever executor runs them, with however many workers, in whatever order the work
finishes. (Across machines, that also takes the same NumPy build and CPU kernels: BLAS
libraries pick their summation order by CPU.)

Work leaves this process as three plain values: ``run`` by reference (its module and
qualified name, which the worker imports: no code travels), the config and the seed; the
worker builds the key itself. A lambda or a function defined inside another function has
no name to import by, so it is refused whenever the work leaves this process. A
``functools.partial`` or a callable object travels pickled, its function or class by name.

Executors:

- ``executor=None``: a fresh local process pool (``forkserver``, or ``spawn`` where there is
  no forkserver), shut down before :func:`sweep` returns.
- :class:`SerialExecutor` (in this thread; for debugging, doctests and ``pdb``) or a
  :class:`concurrent.futures.ThreadPoolExecutor`: work stays in this process.
- any other :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
  ``distributed.Client(...).get_executor()``. fnn never shuts down an executor it was given.

:func:`sweep_summary` groups the rows by setting and reports the mean and standard deviation
of every numeric result across seeds, as a list of dicts or a pandas DataFrame.

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

from fnn.sweep._core import SerialExecutor, sweep
from fnn.sweep.summary import sweep_summary

__all__ = ["sweep", "sweep_summary", "SerialExecutor"]

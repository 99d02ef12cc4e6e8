"""Both cores for an elementwise optimizer kernel: the vector split in two halves, one run on a helper thread.

An optimizer's update on a long flat vector is elementwise work on one core while the other idles
(the matrix products before it ran on both through BLAS). NumPy's ufuncs and the numba kernels
(``nogil=True``) release the GIL while they run, so one persistent helper thread can run the
kernel on the upper half while the calling thread runs it on the lower half. Every element goes
through the same operations as in one call, so the result is bitwise the single-threaded one
(``tests/test_fast.py``).

The helper is one daemon thread per process, made on first use (and again in a forked child,
where the parent's thread does not exist); it holds no data between calls. Vectors shorter than
:data:`MIN_SPLIT` elements run in one call: waking the helper costs more than half such a pass.

**Only when BLAS leaves the second core free.** OpenBLAS's worker threads busy-wait after each
matrix product (for ``OPENBLAS_THREAD_TIMEOUT``: by default 2^28 cycles, about 0.1 s), so right
after the backward pass the "idle" core is taken by a spinning BLAS thread, and a helper thread
only competes with it: measured on 2 cores, the split epoch was no faster (batch 32, numba Adam:
664 against 567 µs a step), and numba's ``parallel=True`` (its OpenMP threads spin too) was 5-8x
slower. With ``OPENBLAS_THREAD_TIMEOUT=4`` (BLAS threads sleep at once) both-core kernels win
(a 784x256 product + a 235k-element pass: 0.8-0.9 against 1.35 ms). And where other processes
keep the second core busy, the split loses (the Adam update alone, BLAS on one thread, a loaded
machine: numba 130 against 86 µs, NumPy 517 against 343). So the split runs only when the
environment says BLAS will not spin and the machine is meant for this process:
``OPENBLAS_THREAD_TIMEOUT`` set to 10 or less, read once, at import, as OpenBLAS reads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["MIN_SPLIT", "split_run", "usable_cores"]

# Below this many elements (in float32, 512 KB an array) one call is faster than two halves.
MIN_SPLIT = 1 << 17

_LOCK = threading.Lock()
_POOL: list = [None, -1]  # the helper executor and the pid that made it


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_CORES = usable_cores()


def _blas_leaves_a_core(env: dict) -> bool:
    """Whether OpenBLAS's threads were told not to busy-wait on the other core (see the module docstring)."""
    timeout = env.get("OPENBLAS_THREAD_TIMEOUT", "").strip()
    return timeout.isdigit() and int(timeout) <= 10


_SPLIT = _CORES >= 2 and _blas_leaves_a_core(dict(os.environ))


def _helper() -> ThreadPoolExecutor:
    pid = os.getpid()
    if _POOL[1] != pid:
        with _LOCK:
            if _POOL[1] != pid:  # first use, or a forked child: the parent's thread is not ours
                _POOL[0] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fnn-optim")
                _POOL[1] = pid
    return _POOL[0]


def split_run(kernel: Callable[[int, int], None], n: int) -> None:
    """Run ``kernel(start, stop)`` over ``[0, n)``: in two halves on two threads when ``n >= MIN_SPLIT``,
    the process has two cores or more and BLAS leaves one free, else in one call. Exceptions of
    either half are raised.

    >>> import numpy as np
    >>> a = np.zeros(300_000)
    >>> def fill(start, stop):
    ...     a[start:stop] += np.arange(start, stop)
    >>> split_run(fill, a.size)
    >>> bool(np.array_equal(a, np.arange(300_000)))
    True
    """
    if n < MIN_SPLIT or not _SPLIT:
        kernel(0, n)
        return
    half = (n // 2 + 63) & ~63  # a multiple of 64 elements: each half starts on a cache line as the whole does
    upper: Future = _helper().submit(kernel, half, n)
    try:
        kernel(0, half)
    finally:
        upper.result()

"""A core each for the training thread and the GUI thread while a run goes on (Linux).

On a small machine training uses one BLAS thread and leaves the other core to the GUI
(PITFALLS.md, BLAS threads). Left to the scheduler, the two threads still meet on one core:
every report the worker posts wakes the GUI thread, and Linux wakes a thread near the one
that woke it, so the GUI preempts training on its own core while the other core idles.
Measured on the 2-core development VM (one MNIST epoch, 24 interleaved rounds): the
training thread's CPU time was 1.05-1.07x the headless epoch's, 1.00x with a core each,
and the in-window/headless ratio fell from ~1.09-1.12 to ~1.06-1.07.

Only threads are pinned, only during a run: the controller moves the GUI thread off the
training core before the worker starts and gives it back all its cores when the run ends.
Where pinning is not possible (macOS, Windows, a single allowed CPU) nothing happens. A
thread the GUI thread starts during a run inherits its CPUs (Linux): e.g. the pool thread of
a gradient check begun mid-run keeps off the training core until it expires.
"""

from __future__ import annotations

import os
from collections.abc import Set as AbstractSet

__all__ = ["core_split", "pin_this_thread", "thread_cpus"]


def core_split(blas_threads: int, allowed: AbstractSet[int] | None = None) -> tuple[int, frozenset[int]] | None:
    """(the training thread's CPU, the GUI thread's CPUs) for a run, or None when the threads
    are best left to the scheduler: threads cannot be pinned here, fewer than two CPUs are
    allowed, or training uses several BLAS threads (they would all share the one core).
    ``allowed``: the CPUs this thread may use (default: asked from the system)."""
    if blas_threads != 1:
        return None
    if allowed is None:
        allowed = thread_cpus()
    if allowed is None or len(allowed) < 2:
        return None
    training = max(allowed)
    return training, frozenset(allowed) - {training}


def thread_cpus() -> frozenset[int] | None:
    """The CPUs the calling thread may run on, or None where that cannot be known."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    try:
        return frozenset(os.sched_getaffinity(0))
    except OSError:
        return None


def pin_this_thread(cpus: AbstractSet[int]) -> bool:
    """Let the calling thread run only on ``cpus``; False (and no change) where refused."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, cpus)  # 0: the calling thread (Linux affinity is per thread)
    except OSError:
        return False
    return True

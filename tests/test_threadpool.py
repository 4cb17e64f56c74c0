"""The persistent thread pool: every run reaches all threads, barriers separate phases, results do not depend on the
thread count."""

import numpy as np
import pytest

from llamacore import _core, ops


@pytest.mark.parametrize("n_threads", [1, 2, 3, 5])
def test_runs_and_barriers(n_threads):
    # Each run: n_barriers phases in which every thread must see every other thread's value of the phase, then each
    # thread adds ith + 1. A broken barrier adds 1e9.
    runs, barriers = 100, 5
    total = _core.threadpool_selftest(n_threads, runs, barriers)
    assert total == runs * n_threads * (n_threads + 1) // 2


def test_matmul_result_independent_of_thread_count():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 256)).astype(np.float32)
    x = rng.standard_normal((9, 256)).astype(np.float32)
    wq = ops.copy_rows(w, "Q8_0")
    ys = [ops.matmul(wq, "Q8_0", x, n_threads=t) for t in (1, 2, 3, 4)]
    for y in ys[1:]:
        assert np.array_equal(y, ys[0])

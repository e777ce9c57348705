"""numpy's and OpenCV's OpenBLAS run one thread once marrow_desktop is imported (an idle
OpenBLAS worker spins at normal priority and took a core from the viewer during a batch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("threadpoolctl")

PROBE = ("import marrow_desktop, numpy, cv2, json; from threadpoolctl import threadpool_info; "
         "print(json.dumps([i['num_threads'] for i in threadpool_info() "
         "if i['internal_api'] == 'openblas']))")


def _openblas_threads(env: dict[str, str]) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_openblas_runs_one_thread_unless_the_user_says_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    threads = _openblas_threads(env)
    if not threads:
        pytest.skip("numpy and OpenCV here use no OpenBLAS")
    assert set(threads) == {1}
    # the user's own setting stands (OpenCV's bundled OpenBLAS 0.3.3 in the clinic bundle's
    # pinned opencv runs one thread whatever it is told; numpy's follows the setting)
    assert max(_openblas_threads({**env, "OPENBLAS_NUM_THREADS": "2"})) == 2

"""Why the synthetic transform is slower in the benchmark's process than in a fresh
interpreter: the state of the heap, not what is imported.

Run: ``python benchmarks/heap_check.py``. Each setting runs in a new interpreter,
round-robin over the rounds; per round, the median of 5 transforms of the 100-line
synthetic function (``workloads.synthetic_source``). Settings:

* ``fresh``: imports s2sad only (as the benchmark's fresh-interpreter figure);
* ``peers``: imports PyTorch, JAX and autograd first (those installed);
* ``fragmented``: first makes 1.5 million small objects of mixed sizes (tuples,
  dicts, lists, floats, strings), shuffled, and keeps a third: the free blocks the
  transform's small objects then take are scattered over the heap, as in a process
  that has run other work (the benchmark's workloads).

Printed: each setting's median over the rounds, and its median ratio to ``fresh``
in the same round. On the benchmark machine (2026-12-07, 5 rounds, 41 s): fresh
47.1 ms, peers 48.4 ms (1.03x), fragmented 52.8 ms (1.16x); the benchmark's own
process reads 1.20-1.26x fresh.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

_CHILD = r"""
import importlib.util, random, sys, time, types
sys.path.insert(0, {root!r})
setting = {setting!r}
if setting == "peers":
    for name in ("torch", "jax", "autograd"):
        try:
            __import__(name)
        except ImportError:
            pass
keep = None
if setting == "fragmented":
    objs = []
    for i in range(1_500_000):
        k = i % 6
        objs.append((i,) * (1 + i % 9) if k == 0 else {{"a": i}} if k == 1 else
                    [i] * (i % 7) if k == 2 else float(i) if k == 3 else
                    str(i) * (1 + i % 5) if k == 4 else (i, i))
    random.Random(1).shuffle(objs)
    keep = objs[: len(objs) // 3]
    del objs
import s2sad
spec = importlib.util.spec_from_file_location("synthetic100", {path!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
f = mod.synth
times = []
for k in range(7):          # two to warm up, five timed
    fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__)
    s2sad.parse._SOURCES.clear()
    t0 = time.perf_counter()
    s2sad.api.compiled(fresh, (0, 1), True, "grad", {{"x": "S", "y": "S"}})
    times.append(time.perf_counter() - t0)
print(sorted(times[2:])[2])
"""

SETTINGS = ("fresh", "peers", "fragmented")


def main(rounds=5):
    sys.path.insert(0, HERE)
    import workloads as W

    tmp = tempfile.mkdtemp(prefix="s2sad-heap-")
    path = os.path.join(tmp, "synthetic100.py")
    with open(path, "w") as fh:
        fh.write(W.synthetic_source(100))
    got = {s: [] for s in SETTINGS}
    for _ in range(rounds):
        for setting in SETTINGS:
            code = _CHILD.format(root=os.path.dirname(HERE), path=path, setting=setting)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                 text=True, check=True).stdout
            got[setting].append(float(out.split()[-1]))
    for setting in SETTINGS:
        ratio = statistics.median(t / f for t, f in zip(got[setting], got["fresh"]))
        print(f"{setting:<11} {statistics.median(got[setting]) * 1e3:6.1f} ms   "
              f"{ratio:.2f}x fresh (same rounds)")


if __name__ == "__main__":
    main()

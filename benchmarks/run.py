#!/usr/bin/env python
"""Benchmark s2sad gradients against hand-written gradients and peer AD tools.

Usage::

    python benchmarks/run.py                  # full run, writes benchmarks/results/latest.md
    python benchmarks/run.py --quick          # smoke run (small sizes, few rounds), < 1 minute
    python benchmarks/run.py --only mlp       # one workload (repeatable)
    python benchmarks/run.py --skip jax.jit   # leave a tool out (repeatable)

See ``benchmarks/README.md`` for the method. In short: the hand-written
gradients are checked against finite differences first (``check.py``); every
tool's gradient is checked against the hand-written one before it is timed (a
wrong result is reported as WRONG and not timed); every callable of a workload
is timed round-robin in the same rounds, with an inner repeat count calibrated
to about 20 ms, and ratios are medians of the per-round ratios.
"""

from __future__ import annotations

import os

# One thread per library. This must happen before NumPy, PyTorch or JAX load.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["JAX_ENABLE_X64"] = "1"             # every tool computes in float64
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

import check  # noqa: E402
import workloads as W  # noqa: E402

import s2sad  # noqa: E402
import s2sad.api  # noqa: E402

RESULTS = os.path.join(HERE, "results", "latest.md")
TOOLS = ["s2sad", "torch", "autograd", "jax", "jax.jit"]
RTOL = 1e-6                    # a tool's gradient vs the hand-written one
SLOW_CALL = 0.5                # seconds: callables slower than this get fewer rounds
SLICES = 4                     # interleaved passes per round


class Settings:
    def __init__(self, quick):
        self.quick = quick
        self.target = 0.002 if quick else 0.020      # seconds per callable per round
        self.min_rounds, self.max_rounds = (3, 3) if quick else (15, 30)
        self.budget = 1.0 if quick else 25.0         # seconds of timing per workload
        self.slow_budget = 1.0 if quick else 12.0    # seconds for each slow callable
        self.slow_min_rounds = 1 if quick else 3
        self.transform_repeats = 1 if quick else 7


# ---------------------------------------------------------------------------
# Peers: built from each workload's ``peer(ns)`` over the library's namespace


def _numpy_like(mod):
    return types.SimpleNamespace(sin=mod.sin, cos=mod.cos, log=mod.log, exp=mod.exp,
                                 tanh=mod.tanh, sum=mod.sum, max=mod.max, mean=mod.mean)


def load_autograd():
    import autograd
    import autograd.numpy as anp
    ns = _numpy_like(anp)

    def build(w, args):
        fn = autograd.grad(w.peer(ns), argnum=tuple(w.wrt))
        return fn, args, lambda r: tuple(np.asarray(x, dtype=float) for x in r)
    return {"autograd": build}, _version("autograd")


def load_torch():
    import torch
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    def elementwise(tf, mf):
        return lambda x: tf(x) if isinstance(x, torch.Tensor) else mf(x)

    def reduction(tf):
        def red(x, axis=None, keepdims=False):
            return tf(x) if axis is None else tf(x, dim=axis, keepdim=keepdims)
        return red

    ns = types.SimpleNamespace(
        sin=elementwise(torch.sin, math.sin), cos=elementwise(torch.cos, math.cos),
        log=elementwise(torch.log, math.log), exp=elementwise(torch.exp, math.exp),
        tanh=elementwise(torch.tanh, math.tanh), sum=reduction(torch.sum),
        max=reduction(torch.amax), mean=reduction(torch.mean))

    def build(w, args):
        f = w.peer(ns)
        targs = []
        for i, a in enumerate(args):
            if i in w.wrt:
                a = torch.tensor(a, dtype=torch.float64, requires_grad=True)
            elif isinstance(a, np.ndarray):
                a = torch.from_numpy(a)
            targs.append(a)
        wrt = tuple(w.wrt)

        def torch_grad(*a):
            return torch.autograd.grad(f(*a), [a[i] for i in wrt])
        return torch_grad, tuple(targs), lambda r: tuple(x.detach().numpy() for x in r)
    return {"torch": build}, torch.__version__


def load_jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    ns = _numpy_like(jnp)

    def prepare(w, args):
        """grad over the arrays and differentiated arguments; other arguments are constants."""
        f = w.peer(ns)
        dynamic = [i for i, a in enumerate(args) if i in w.wrt or isinstance(a, np.ndarray)]
        fixed = {i: a for i, a in enumerate(args) if i not in dynamic}

        def closed(*dyn):
            full = dict(fixed)
            full.update(zip(dynamic, dyn))
            return f(*(full[i] for i in range(len(args))))
        argnums = tuple(dynamic.index(i) for i in w.wrt)
        jargs = tuple(jnp.asarray(args[i]) if isinstance(args[i], np.ndarray) else args[i]
                      for i in dynamic)
        return jax.grad(closed, argnums=argnums), jargs

    def convert(r):
        return tuple(np.asarray(x, dtype=float) for x in r)

    def build_eager(w, args):
        g, jargs = prepare(w, args)
        return lambda *a: jax.block_until_ready(g(*a)), jargs, convert

    def build_jit(w, args):
        g, jargs = prepare(w, args)
        jg = jax.jit(g)
        return lambda *a: jax.block_until_ready(jg(*a)), jargs, convert
    return {"jax": build_eager, "jax.jit": build_jit}, jax.__version__


def _version(dist):
    from importlib.metadata import version
    try:
        return version(dist)
    except Exception:
        return "?"


def load_peers(skip):
    """{tool: builder}, {library: version or 'not installed (...)'}."""
    builders, versions = {}, {}
    for lib, loader in (("autograd", load_autograd), ("torch", load_torch), ("jax", load_jax)):
        if lib in skip:
            versions[lib] = "skipped (--skip)"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got, ver = loader()
        except Exception as exc:           # ImportError, or a broken install
            versions[lib] = f"not available ({type(exc).__name__}: {_first_line(exc)})"
            continue
        builders.update({k: v for k, v in got.items() if k not in skip})
        versions[lib] = ver
    return builders, versions


# ---------------------------------------------------------------------------
# Measurement


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else ""


def _failure(exc):
    unsupported = isinstance(exc, (s2sad.S2SADError, NotImplementedError)) or any(
        k in type(exc).__name__ for k in ("Concretization", "TracerBool", "TracerInteger"))
    kind = "unsupported" if unsupported else "error"
    return f"{kind} ({type(exc).__name__}: {_first_line(exc)})"


_LOOPS = {}


def _loop(nargs):
    """A timing loop calling ``fn`` with ``nargs`` positional arguments (no ``*args``)."""
    if nargs not in _LOOPS:
        names = ", ".join(f"a{i}" for i in range(nargs))
        src = (f"def loop(n, fn{', ' if nargs else ''}{names}):\n"
               f"    t0 = perf()\n"
               f"    for _ in repeat(None, n):\n"
               f"        fn({names})\n"
               f"    return perf() - t0\n")
        space = {"perf": time.perf_counter, "repeat": itertools.repeat}
        exec(src, space)
        _LOOPS[nargs] = space["loop"]
    return _LOOPS[nargs]


class Entry:
    """One callable of a workload: its status, timing and memory."""

    def __init__(self, label, fn=None, args=(), convert=None, status="ok"):
        self.label, self.fn, self.args, self.convert = label, fn, tuple(args), convert
        self.status = status
        self.first_call = None          # seconds, the call that checked the result
        self.per_call = None            # calibration estimate
        self.inner = 1
        self.max_rounds = None
        self.times = {}                 # round -> seconds per call
        self.peak = None                # bytes, tracemalloc
        self.max_err = None

    @property
    def timed(self):
        return self.status == "ok" and self.fn is not None

    def call(self, n=1):
        return _loop(len(self.args))(n, self.fn, *self.args)

    def median(self):
        return statistics.median(self.times.values()) if self.times else None


def _rel_err(got, want):
    if not isinstance(got, tuple) or len(got) != len(want):
        return math.inf
    worst = 0.0
    for g, w in zip(got, want):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape:
            return math.inf
        scale = max(float(np.max(np.abs(w))) if w.size else 0.0, 1e-300)
        worst = max(worst, float(np.max(np.abs(g - w))) / scale if w.size else 0.0)
    return worst


def add_checked(entries, label, make, reference):
    """Build a callable, call it once, check it against ``reference``; append an Entry."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn, args, convert = make()
            t0 = time.perf_counter()
            result = fn(*args)
            first = time.perf_counter() - t0
    except Exception as exc:
        entries.append(Entry(label, status=_failure(exc)))
        return None
    entry = Entry(label, fn, args, convert)
    entry.first_call = first
    try:
        err = _rel_err(convert(result), reference)
    except Exception as exc:
        err = math.inf
        entry.status = f"error (converting the result: {_first_line(exc)})"
    entry.max_err = err
    if not err <= RTOL:
        if entry.status == "ok":
            entry.status = f"WRONG (max relative error {err:.1e})"
    entries.append(entry)
    return entry


def calibrate(entry, settings):
    elapsed = entry.call(1)                         # warm
    if elapsed > SLOW_CALL:                         # a slow callable: one call is enough
        entry.per_call, entry.inner = elapsed, 1
        return
    n, elapsed = 1, entry.call(1)
    while elapsed < settings.target / 5 and n < 10**7:
        n *= 10 if elapsed < settings.target / 100 else 2
        elapsed = entry.call(n)
    entry.per_call = elapsed / n
    entry.inner = max(1, round(settings.target / entry.per_call))


def time_round_robin(entries, settings, rng):
    timed = [e for e in entries if e.timed]
    for e in timed:
        calibrate(e, settings)
    fast = [e for e in timed if e.per_call <= SLOW_CALL]
    cost = sum(e.inner * e.per_call for e in fast) or 1e-9
    rounds = int(min(settings.max_rounds, max(settings.min_rounds, settings.budget // cost)))
    for e in timed:
        if e.per_call > SLOW_CALL:
            e.max_rounds = int(max(settings.slow_min_rounds,
                                   min(rounds, settings.slow_budget // e.per_call)))
    for r in range(rounds):
        active = [e for e in timed if e.max_rounds is None or r < e.max_rounds]
        spent = {id(e): 0.0 for e in active}
        calls = {id(e): 0 for e in active}
        # each round interleaves the callables in SLICES short passes, so that a change of
        # the machine's load during the round hits every callable of the round alike
        for s in range(SLICES):
            rng.shuffle(active)
            for e in active:
                n = e.inner // SLICES + (1 if s < e.inner % SLICES else 0)
                if n:
                    spent[id(e)] += e.call(n)
                    calls[id(e)] += n
        for e in active:
            e.times[r] = spent[id(e)] / calls[id(e)]
    return rounds


def ratio(a, b):
    """Median and quartiles of the per-round ratios a/b over the rounds both ran."""
    if a is None or b is None or not a.times or not b.times:
        return None
    rs = sorted(a.times[r] / b.times[r] for r in a.times if r in b.times)
    if not rs:
        return None
    if len(rs) < 4:
        return statistics.median(rs), rs[0], rs[-1]
    q = statistics.quantiles(rs, n=4)
    return statistics.median(rs), q[0], q[2]


def peak_memory(entry, warm=False):
    """Peak bytes allocated (tracemalloc) during one call, above what was live before.

    With ``warm``, the callable is called once first (outside tracemalloc). For the
    scalar workloads the figure is a few floats, so two things are kept out of it:
    CPython's free lists of floats and of pairs are emptied before each measurement
    (else the first objects the call makes reuse freed ones that tracemalloc does
    not see, and how many depends on what ran before), and what reading the counters
    allocates (an int and a pair) is measured the same way on a call that does
    nothing and subtracted.
    """
    if warm:
        entry.fn(*entry.args)
    gc.collect()
    overhead = min(_traced_peak(_nothing, entry.args) for _ in range(3))
    return max(_traced_peak(entry.fn, entry.args) - overhead, 0)


def _nothing(*args):
    return None


def _traced_peak(fn, args):
    """Bytes allocated at the peak of one call of ``fn``, free lists emptied first."""
    hold = [i + 0.5 for i in range(256)], [(i, i) for i in range(2100)]    # (small ints are
    # cached: each item allocates one float, or one pair)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn(*args)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del result, hold
    return peak


def transform_time(func, args, wrt, repeats, samples=False, mode=None):
    """Median seconds of ``s2sad.api.compiled`` on fresh copies of ``func`` (no cache hit,
    the parsed source included: the time of a function's first transform) in the mode
    ``grad`` runs (``mode='forward'`` where it chose forward mode); with ``samples``,
    every time measured, sorted."""
    bound = inspect.signature(func).bind(*args)
    kinds = {n: s2sad.api.kind_of(v) for n, v in bound.arguments.items()}
    times = []
    for _ in range(repeats):
        if sum(times) > 3.0:                  # a slow transform: a few samples suffice
            break
        fresh = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                                   func.__defaults__, func.__closure__)
        s2sad.parse._SOURCES.clear()          # a first transform: the source is read again
        t0 = time.perf_counter()
        s2sad.api.compiled(fresh, tuple(wrt), True, "grad", kinds, mode=mode)
        times.append(time.perf_counter() - t0)
    return sorted(times) if samples else statistics.median(times)


def cpu_check(additions=1_000_000, repeats=5):
    """Milliseconds of a fixed pure-Python loop (10^6 additions), best of 5. The host's
    speed varies over time (other machines share it); absolute times, such as the
    transform time, move with it, ratios of same-round pairs do not."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        acc = 0
        for i in range(additions):
            acc += i
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


class Result:
    def __init__(self, workload):
        self.w = workload
        self.entries = []
        self.rounds = 0
        self.transform = None           # seconds, or an error string
        self.seconds = 0.0

    def get(self, label):
        for e in self.entries:
            if e.label == label:
                return e
        return None


def run_workload(w, peers, settings, skip, rng, log):
    res = Result(w)
    start = time.perf_counter()
    args = w.make_args(settings.quick)
    reference = w.grad(*args)
    res.entries.append(Entry("f", w.f, args, None))
    hand = Entry("hand", w.grad, args, None)
    res.entries.append(hand)
    for label, variant in w.extra.items():
        add_checked(res.entries, label, lambda v=variant: (v, args, tuple), reference)

    if "s2sad" not in skip:
        gfn = s2sad.grad(w.f, wrt=tuple(w.wrt))
        entry = add_checked(res.entries, "s2sad", lambda: (gfn, args, tuple), reference)
        last = getattr(gfn, "_last", None)
        if entry is not None and entry.timed and last is not None:
            # the generated function itself, without the dispatch of s2sad.grad's wrapper
            res.entries.append(Entry("s2sad (generated fn)", last.function, args, None))
        if last is not None and last.ctx.mode == "forward":
            # grad chose forward mode (one scalar argument, or two and an unbounded
            # loop): reverse mode measured too
            rfn = s2sad.grad(w.f, wrt=tuple(w.wrt), mode="reverse")
            add_checked(res.entries, "s2sad reverse", lambda: (rfn, args, tuple), reference)
        elif last is not None and all(isinstance(args[i], float) for i in w.wrt):
            # several scalar arguments, grad runs reverse mode: forward mode measured too
            ffn = s2sad.grad(w.f, wrt=tuple(w.wrt), mode="forward")
            add_checked(res.entries, "s2sad forward", lambda: (ffn, args, tuple), reference)
        if w.checkpoint and "checkpoint" not in skip:
            cfn = s2sad.grad(w.f, wrt=tuple(w.wrt), checkpoint=True)
            add_checked(res.entries, "s2sad checkpoint", lambda: (cfn, args, tuple), reference)
        if w.fixed_point:
            pfn = s2sad.grad(w.f, wrt=tuple(w.wrt), fixed_point=True)
            add_checked(res.entries, "s2sad fixed_point", lambda: (pfn, args, tuple), reference)
        try:
            mode = "forward" if last is not None and last.ctx.mode == "forward" else None
            res.transform = transform_time(w.f, args, w.wrt, settings.transform_repeats,
                                           mode=mode)
        except Exception as exc:
            res.transform = _failure(exc)
    for tool in TOOLS[1:]:
        if tool in peers:
            log(f"  {tool} ...")
            add_checked(res.entries, tool, lambda b=peers[tool]: b(w, args), reference)

    for e in res.entries:
        if e.timed and e.label not in ("torch", "jax", "jax.jit"):
            try:
                e.peak = peak_memory(e)
            except Exception:
                e.peak = None
    log("  timing ...")
    res.rounds = time_round_robin(res.entries, settings, rng)
    res.seconds = time.perf_counter() - start
    return res


# ---------------------------------------------------------------------------
# Checkpointing: the pendulum at 10^3, 10^4, 10^5 steps

CHECKPOINT_STEPS = (10**3, 10**4, 10**5)
CHECKPOINT_STEPS_QUICK = (10**2, 10**3, 10**4)


class Scaling:
    """One size of the checkpointing section: steps, interval, entries, rounds."""

    def __init__(self, steps, interval, entries, rounds):
        self.steps, self.interval, self.entries, self.rounds = steps, interval, entries, rounds

    def get(self, label):
        for e in self.entries:
            if e.label == label:
                return e
        return None


def checkpoint_scaling(settings, rng, log):
    """Peak memory and time of the pendulum's gradient, plain vs ``checkpoint=True`` vs hand.

    At every size: the hand-written adjoint, ``s2sad.grad(pendulum, (0, 1),
    mode="reverse")``, ``s2sad.grad(pendulum, (0, 1), checkpoint=True)`` and
    ``s2sad.grad(pendulum, (0, 1), mode="forward")`` (no tape) are checked against the
    hand-written gradient, their peak memory is taken during one call after a
    warm-up call, and they are timed round-robin like a workload.
    """
    from s2sad.runtime import checkpoint_interval
    w = W.BY_NAME["pendulum"]
    wrt = tuple(w.wrt)
    plain = s2sad.grad(w.f, wrt=wrt, mode="reverse")
    ckpt = s2sad.grad(w.f, wrt=wrt, checkpoint=True)
    forward = s2sad.grad(w.f, wrt=wrt, mode="forward")     # no tape
    timing = types.SimpleNamespace(
        target=settings.target, min_rounds=settings.min_rounds,
        max_rounds=settings.max_rounds, budget=1.0 if settings.quick else 10.0,
        slow_budget=settings.slow_budget, slow_min_rounds=settings.slow_min_rounds)
    out = []
    for steps in (CHECKPOINT_STEPS_QUICK if settings.quick else CHECKPOINT_STEPS):
        log(f"  {steps} steps ...")
        args = W.pendulum_args(settings.quick, steps)
        reference = w.grad(*args)
        entries = [Entry("hand", w.grad, args, None)]
        add_checked(entries, "s2sad", lambda a=args: (plain, a, tuple), reference)
        add_checked(entries, "s2sad checkpoint", lambda a=args: (ckpt, a, tuple), reference)
        add_checked(entries, "s2sad forward", lambda a=args: (forward, a, tuple), reference)
        for e in entries:
            if e.timed:
                e.peak = peak_memory(e, warm=True)
        rounds = time_round_robin(entries, timing, rng)
        out.append(Scaling(steps, checkpoint_interval(steps), entries, rounds))
    return out


def _growth(scaling, label):
    """Peak memory growth factors between consecutive sizes, and per decade overall."""
    peaks = [s.get(label).peak if s.get(label) is not None else None for s in scaling]
    steps = [s.steps for s in scaling]
    if any(not p for p in peaks):
        return None, None
    steps_ = [peaks[i + 1] / peaks[i] for i in range(len(peaks) - 1)]
    decades = math.log10(steps[-1] / steps[0])
    per_decade = (peaks[-1] / peaks[0]) ** (1.0 / decades)
    return steps_, per_decade


def _pow10(n):
    e = round(math.log10(n))
    return f"10^{e}" if 10**e == n else str(n)


def checkpoint_section(scaling):
    """The Markdown of the checkpointing section and its target line."""
    rounds = sorted({s.rounds for s in scaling})
    out = ["## Checkpointing (pendulum, " + ", ".join(_pow10(s.steps) for s in scaling)
           + " steps)", "",
           "`s2sad.grad(pendulum, (0, 1), mode=\"reverse\")` (its tape holds every step) vs "
           "`s2sad.grad(pendulum, (0, 1), checkpoint=True)` (keeps every K-th loop state, "
           "K = isqrt(steps), and replays each segment in the reverse sweep) vs the "
           "hand-written adjoint (stores every state in two lists). Each is checked against "
           "the hand-written gradient. Peak memory: tracemalloc peak above the live memory "
           "during one call, after a warm-up call. Times: medians over "
           + "/".join(map(str, rounds)) + " round-robin rounds; ratios: medians of "
           "same-round ratios (quartiles in brackets).", "",
           "| steps | K (snapshots) | peak mem hand | peak mem s2sad | peak mem s2sad checkpoint "
           "| checkpoint / s2sad mem | time hand | time s2sad | time s2sad checkpoint "
           "| checkpoint / s2sad time | checkpoint / hand time |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in scaling:
        hand, plain, ck = s.get("hand"), s.get("s2sad"), s.get("s2sad checkpoint")
        cells = [_pow10(s.steps), f"{s.interval} ({-(-s.steps // s.interval)})"]
        for e in (hand, plain, ck):
            cells.append(fmt_bytes(e.peak) if e is not None and e.timed else
                         (e.status if e is not None else "—"))
        cells.append(f"{ck.peak / plain.peak:.3g}" if ck is not None and plain is not None
                     and ck.timed and plain.timed and ck.peak and plain.peak else "—")
        for e in (hand, plain, ck):
            cells.append(fmt_time(e.median()) if e is not None and e.timed else "—")
        ok = ck is not None and ck.timed
        cells.append(fmt_ratio(ratio(ck, plain), True) if ok and plain.timed else "—")
        cells.append(fmt_ratio(ratio(ck, hand), True) if ok else "—")
        out.append("| " + " | ".join(cells) + " |")
    spans = [f"{_pow10(a.steps)} → {_pow10(b.steps)}" for a, b in zip(scaling, scaling[1:])]
    out += ["", "Peak memory growth when the number of steps grows tenfold:", "",
            "| | " + " | ".join(spans) + " | per decade, overall | exponent | O(n) would be "
            "| O(sqrt n) would be |",
            "|---" * (len(spans) + 5) + "|"]
    growth = {}
    for label in ("hand", "s2sad", "s2sad checkpoint", "s2sad forward"):
        steps_, per_decade = _growth(scaling, label)
        growth[label] = per_decade
        if per_decade is None:
            out.append(f"| {label} | " + " | ".join("—" for _ in spans) + " | — | — | ×10 | ×3.16 |")
            continue
        out.append(f"| {label} | " + " | ".join(f"×{g:.3g}" for g in steps_)
                   + f" | ×{per_decade:.3g} | n^{math.log10(per_decade):.2f} | ×10 | ×3.16 |")
    plain_g, ck_g = growth["s2sad"], growth["s2sad checkpoint"]
    if plain_g is None or ck_g is None:
        target = ("- checkpointing: not measured (" + "; ".join(
            f"{_pow10(s.steps)} steps, {e.label}: {e.status}" for s in scaling
            for e in s.entries if not e.timed) + ")")
    else:
        sqrt_like = 10**0.4 <= ck_g <= 10**0.6        # exponent between 0.4 and 0.6
        last = scaling[-1]
        ck, plain, hand = (last.get("s2sad checkpoint"), last.get("s2sad"), last.get("hand"))
        target = (f"- checkpointing, pendulum {_pow10(scaling[0].steps)}–"
                  f"{_pow10(last.steps)} steps: peak memory of `checkpoint=True` grows "
                  f"×{ck_g:.3g} per decade (n^{math.log10(ck_g):.2f}; sqrt(n): ×3.16), plain "
                  f"s2sad ×{plain_g:.3g} (n^{math.log10(plain_g):.2f}): grows like sqrt(n): "
                  + ("met" if sqrt_like else "**missed**")
                  + f". At {_pow10(last.steps)} steps: {fmt_bytes(ck.peak)} vs "
                  f"{fmt_bytes(plain.peak)} plain ({ck.peak / plain.peak:.3g}x) and "
                  f"{fmt_bytes(hand.peak)} hand-written ({ck.peak / hand.peak:.3g}x); time "
                  f"{fmt_ratio(ratio(ck, plain))}x plain, {fmt_ratio(ratio(ck, hand))}x "
                  "hand-written")
        fw, fw_g = last.get("s2sad forward"), growth.get("s2sad forward")
        if fw is not None and fw.timed and fw_g is not None:
            target += (f". `mode='forward'` (along c and L) needs no tape: "
                       f"{fmt_bytes(fw.peak)} at {_pow10(last.steps)} steps, ×{fw_g:.3g} per "
                       f"decade; time {fmt_ratio(ratio(fw, hand))}x hand-written")
    out += ["", target.replace("- checkpointing", "Checkpointing", 1), ""]
    return "\n".join(out), target


# ---------------------------------------------------------------------------
# The synthetic 100-line function


class Synthetic(NamedTuple):
    """The synthetic transform's figures (seconds unless said)."""
    lines: int
    wall: tuple          # median, first and third quartiles, number of samples
    normal: float        # median of the samples taken at the host's normal speed
    normal_count: int    # how many those are
    cpu: float           # median CPU time of the transforming thread, all samples
    err: float           # max relative gradient error vs finite differences
    check_ms: float      # CPU check just before, in ms
    fresh: tuple | None  # (median, quartiles, samples, median CPU time) in a new interpreter
    ratio: float | None  # median over the rounds of this process's median / the fresh one's


def synthetic_transform(settings):
    """The synthetic function's transform time, as a ``Synthetic``.

    The host's speed changes by up to 2x within minutes. So a short speed check
    (``quick_check``) runs right before each sample, and besides the median of all
    samples, the median of those whose check was within 10% of the fastest check
    of the run is reported: the time at the host's normal speed. The CPU time of
    the transforming thread (``time.thread_time``) is reported too: it leaves out
    the time the thread waited for a CPU while other processes ran, not the
    slowdown they cause by sharing caches and cores.

    The function has 100 lines (30 with ``--quick``). It is transformed in this
    process, where PyTorch, JAX and the other workloads' data live (the figure the
    target is judged on), and in a fresh interpreter that imports only s2sad, in
    the same rounds: each round takes three samples here, then three in a new
    interpreter, so that both see the host at the same speed; the median of the
    rounds' ratios (here / fresh) is reported too.
    """
    src = W.synthetic_source(30 if settings.quick else 100)
    tmp = tempfile.mkdtemp(prefix="s2sad-bench-")
    path = os.path.join(tmp, "synthetic100.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("synthetic100", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lines = len(inspect.getsourcelines(mod.synth)[0])
    args = (0.7, -0.4)
    cpu = cpu_check()
    samples = []                # (seconds of one transform, its CPU seconds, speed check before)
    fresh, fresh_cpu, ratios = [], [], []       # the fresh interpreter's, same rounds
    for _ in range(settings.transform_repeats):
        here = []
        for _ in range(3):
            check_ms = quick_check()
            # (an untimed transform first: right after the check's loop, a transform ran
            # 5% slower, its caches taken by the loop, which a user's code would not do)
            transform_time(mod.synth, args, (0, 1), 1)
            c0 = time.thread_time()
            wall = transform_time(mod.synth, args, (0, 1), 1)
            samples.append((wall, time.thread_time() - c0, check_ms))
            here.append(wall)
        got = _fresh_samples(path, 3)
        if got is not None:
            fresh += got[0]
            fresh_cpu += got[1]
            ratios.append(statistics.median(here) / statistics.median(got[0]))
    seconds = _quartiles([t for t, _, _ in samples])
    fastest = min(c for _, _, c in samples)
    normal = [t for t, _, c in samples if c <= 1.1 * fastest]
    got = s2sad.grad(mod.synth, wrt=(0, 1))(*args)
    fd = tuple(check._fd_scalar(mod.synth, args, i) for i in (0, 1))
    return Synthetic(lines, seconds, statistics.median(normal), len(normal),
                     statistics.median(c for _, c, _ in samples), _rel_err(tuple(got), fd),
                     cpu, _quartiles(fresh) + (statistics.median(fresh_cpu),) if fresh else None,
                     statistics.median(ratios) if ratios else None)


def _quartiles(times):
    """(median, first and third quartiles, number) of ``times``."""
    times = sorted(times)
    return (statistics.median(times), times[len(times) // 4], times[(3 * len(times)) // 4],
            len(times))


def quick_check():
    """Milliseconds of 10^5 additions in a pure-Python loop, best of 3 (a speed check
    short enough to run before every sample)."""
    return cpu_check(100_000, 3)


_FRESH = """
import importlib.util, sys, time, types
sys.path.insert(0, {root!r})
import s2sad
spec = importlib.util.spec_from_file_location("synthetic100", {path!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
f = mod.synth
times, cpu = [], []
for k in range({repeats} + 1):      # (the first one warms the new interpreter up: untimed)
    fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__)
    s2sad.parse._SOURCES.clear()
    c0, t0 = time.thread_time(), time.perf_counter()
    s2sad.api.compiled(fresh, (0, 1), True, "grad", {{"x": "S", "y": "S"}})
    times.append(time.perf_counter() - t0)
    cpu.append(time.thread_time() - c0)
print(*times[1:])
print(*cpu[1:])
"""


def _fresh_samples(path, repeats):
    """The synthetic transform timed ``repeats`` times in a new interpreter: (seconds
    of each, CPU seconds of each), or None if it failed."""
    code = _FRESH.format(root=os.path.dirname(HERE), path=path, repeats=repeats)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=300, check=True).stdout.splitlines()
    except (subprocess.SubprocessError, OSError):
        return None
    return [float(t) for t in out[0].split()], [float(c) for c in out[1].split()]


# ---------------------------------------------------------------------------
# Report


def fmt_time(s):
    if s is None:
        return "—"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def fmt_bytes(b):
    if b is None:
        return "—"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b} B"


def fmt_ratio(r, spread=False):
    if r is None:
        return "—"
    m, lo, hi = r
    text = f"{m:.3g}" if m < 100 else f"{m:.0f}"
    return text + (f" ({lo:.3g}–{hi:.3g})" if spread else "")


def describe(args):
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append("array " + "x".join(map(str, a.shape)))
        elif isinstance(a, (tuple, list)):
            parts.append(f"{type(a).__name__} of {len(a)}")
        else:
            parts.append(f"{a!r}")
    return "(" + ", ".join(parts) + ")"


def workload_table(res):
    w = res.w
    f, hand = res.get("f"), res.get("hand")
    out = [f"### {w.name}: {w.title}", "",
           f"Arguments {describe(f.args)}, gradient w.r.t. arguments "
           f"{', '.join(map(str, w.wrt))}. {res.rounds} rounds, {res.seconds:.1f} s. Ratios are medians of same-round "
           "ratios (in brackets: quartiles, or min–max under 4 rounds). Memory: tracemalloc peak above the "
           "live memory during one call (NumPy and Python allocations; not traced for "
           "torch/jax).", "",
           "| callable | status | median time | / hand | / f | peak extra memory | first call |",
           "|---|---|---|---|---|---|---|"]
    for e in res.entries:
        rounds_note = ""
        if e.max_rounds is not None and e.max_rounds < res.rounds:
            rounds_note = f" ({len(e.times)} rounds)"
        first = fmt_time(e.first_call) if e.first_call is not None else ""
        if e.label == "jax.jit" and e.timed and e.median() is not None:
            first += f" (compile ≈ {fmt_time(max(0.0, e.first_call - e.median()))})"
        if e.label == "f":
            first = ""
        out.append(f"| {e.label} | {e.status} | {fmt_time(e.median()) if e.timed else '—'}"
                   f"{rounds_note} | {fmt_ratio(ratio(e, hand), True) if e is not hand else '1'} "
                   f"| {fmt_ratio(ratio(e, f)) if e is not f else '1'} | {fmt_bytes(e.peak)} "
                   f"| {first} |")
    t = res.transform
    out += ["", "s2sad transform (`s2sad.api.compiled` on a fresh function object, median): "
            + (fmt_time(t) if isinstance(t, float) else str(t or "—")), ""]
    return "\n".join(out)


def summary_cell(res, tool):
    e, hand = res.get(tool), res.get("hand")
    if e is None:
        return "—", None
    if not e.timed:
        short = "WRONG" if e.status.startswith("WRONG") else e.status.split(" ")[0]
        return short, f"{tool}: {e.status}"
    return fmt_ratio(ratio(e, hand)), None


def summary_table(results, synthetic):
    out = ["| workload | hand grad | s2sad/hand | torch/hand | autograd/hand | jax/hand | "
           "jax.jit/hand | s2sad grad/f | transform | peak mem s2sad/hand |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for res in results:
        cells = []
        for tool in TOOLS:
            cell, note = summary_cell(res, tool)
            cells.append(cell)
            if note:
                notes.append(f"- {res.w.name}, {note}")
        s, f, hand = res.get("s2sad"), res.get("f"), res.get("hand")
        gf = fmt_ratio(ratio(s, f)) if s is not None and s.timed else "—"
        t = res.transform
        tcell = f"{t * 1e3:.1f} ms" if isinstance(t, float) else "—"
        mem = (f"{s.peak / hand.peak:.3g} ({fmt_bytes(s.peak)})" if s is not None and s.timed
               and s.peak and hand.peak else "—")
        out.append(f"| {res.w.name} | {fmt_time(hand.median())} | {cells[0]} | {cells[1]} | "
                   f"{cells[2]} | {cells[3]} | {cells[4]} | {gf} | {tcell} | {mem} |")
    if synthetic is not None:
        sy = synthetic
        cell = (f"{sy.normal * 1e3:.1f} ms (all samples: {sy.wall[0] * 1e3:.1f} ms)"
                if sy.normal_count >= 5 else f"{sy.wall[0] * 1e3:.1f} ms")
        out.append(f"| synthetic {sy.lines}-line function | | | | | | | | {cell} | |")
    return "\n".join(out), notes


def targets(results, synthetic, checkpoint_target=None):
    """The issue's targets, met or missed, for s2sad."""
    out = []

    def verdict(ok):
        return "met" if ok else "**missed**"

    for res in results:
        s, hand, f = res.get("s2sad"), res.get("hand"), res.get("f")
        if s is None:
            continue
        if not s.timed:
            out.append(f"- {res.w.name}: s2sad {s.status}")
            continue
        limit = 3.0 if res.w.category in ("scalar", "scalar-loop") else 1.3
        r = ratio(s, hand)[0]
        gf = ratio(s, f)[0]
        parts = [f"s2sad/hand {r:.3g} ≤ {limit:g}: {verdict(r <= limit)}",
                 f"grad/f {gf:.3g} ≤ 4: {verdict(gf <= 4)}"]
        if s.peak and hand.peak:
            m = s.peak / hand.peak
            parts.append(f"memory {m:.3g} ≤ 1.5: {verdict(m <= 1.5)}")
        ck = res.get("s2sad checkpoint")
        if ck is not None and ck.timed:
            extra = f"time {fmt_ratio(ratio(ck, hand))}x hand"
            if ck.peak and hand.peak:
                extra += f", memory {ck.peak / hand.peak:.3g}x hand"
            note = f" (with `checkpoint=True`: {extra})"
        elif ck is not None:
            note = f" (with `checkpoint=True`: {ck.status})"
        else:
            note = ""
        mode = ""
        if res.get("s2sad reverse") is not None:
            mode = (" (`grad` chose forward mode: one scalar argument)" if len(res.w.wrt) == 1
                    else " (`grad` chose forward mode: two scalar arguments, a loop of a trip "
                         "count the source does not fix)")
        out.append(f"- {res.w.name}{mode}: " + "; ".join(parts) + note)
        for label, what in (("s2sad reverse", "with `mode='reverse'` (the taped sweep)"),
                            ("s2sad forward", "with `mode='forward'` (a tangent sweep per "
                                              "argument, no tape)"),
                            ("s2sad fixed_point", "with `fixed_point=True` (the while loop "
                                                  "differentiated at its limit)")):
            v = res.get(label)
            if v is not None and v.timed:
                r, gf = ratio(v, hand)[0], ratio(v, f)[0]
                parts = [f"s2sad/hand {r:.3g} ≤ {limit:g}: {verdict(r <= limit)}",
                         f"grad/f {gf:.3g} ≤ 4: {verdict(gf <= 4)}"]
                if v.peak and hand.peak:
                    m = v.peak / hand.peak
                    parts.append(f"memory {m:.3g} ≤ 1.5: {verdict(m <= 1.5)}")
                out.append(f"- {res.w.name} {what}: " + "; ".join(parts))
            elif v is not None:
                out.append(f"- {res.w.name} {what}: {v.status}")
    if synthetic is not None:
        sy = synthetic
        (seconds, q1, q3, n), normal, k = sy.wall, sy.normal, sy.normal_count
        alone = "" if sy.fresh is None else (
            f"; in a fresh interpreter that imports only s2sad: {sy.fresh[0] * 1e3:.1f} ms, "
            f"quartiles {sy.fresh[1] * 1e3:.1f}–{sy.fresh[2] * 1e3:.1f} ms, CPU time "
            f"{sy.fresh[4] * 1e3:.1f} ms; this process over a fresh interpreter in the same "
            f"rounds: {sy.ratio:.2f}x")
        # judged at the host's normal speed when enough samples were taken at it
        judged = normal if k >= 5 else seconds
        out.append(f"- transform of the synthetic {sy.lines}-line function: {normal * 1e3:.1f} ms "
                   f"at the host's normal speed (median of the {k} of {n} first transforms "
                   f"in the benchmark process whose speed check, run just before each, was "
                   f"within 10% of the fastest); all {n}: median {seconds * 1e3:.1f} ms, "
                   f"quartiles {q1 * 1e3:.1f}–{q3 * 1e3:.1f} ms, CPU time of the thread "
                   f"{sy.cpu * 1e3:.1f} ms; CPU check just before: {sy.check_ms:.0f} ms{alone}. "
                   f"< 50 ms: {verdict(judged < 0.05)}"
                   f"{'' if k >= 5 else ' (judged on all samples: too few at normal speed)'} "
                   f"(its gradient vs finite differences: max relative error {sy.err:.1e})")
    if checkpoint_target:
        out.append(checkpoint_target)
    return "\n".join(out)


def _git_commit():
    try:
        root = os.path.dirname(HERE)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "s2sad"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + (" (s2sad/ has uncommitted changes)" if dirty else "")
    except Exception:
        return "?"


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _load():
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


LOAD_SAMPLES = []              # 1-minute load averages sampled during the run
HIGH_LOAD = 1.5                # warn above this many times the usable cores


def _sample_load():
    try:
        LOAD_SAMPLES.append(os.getloadavg()[0])
    except OSError:
        pass


def _load_warning(usable):
    """A header line when the 1-minute load went above HIGH_LOAD x the usable cores."""
    _sample_load()
    if not LOAD_SAMPLES or not usable:
        return []
    top = max(LOAD_SAMPLES)
    if top <= HIGH_LOAD * usable:
        return [f"- 1-minute load sampled before each workload: at most {top:.1f} "
                f"({top / usable:.1f}x the {usable} usable cores)"]
    return [f"- **high load**: the 1-minute load average, sampled before each workload, "
            f"reached {top:.1f} ({top / usable:.1f}x the {usable} usable cores; this run "
            "itself accounts for 1). Absolute times are inflated and noisier than on an idle "
            "machine; same-round ratios are less affected, but compare them across runs "
            "with care"]


def header(settings, versions, argv, started, load_before, cpu_before):
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    peers = ", ".join(f"{k} {v}" for k, v in versions.items())
    return "\n".join([
        "# s2sad benchmark results", "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- command: `python benchmarks/run.py{' ' + ' '.join(argv) if argv else ''}`"
        + (" (quick: small sizes, few rounds; not comparable)" if settings.quick else ""),
        f"- machine: {platform.platform()}; CPU: {_cpu_model()}; {os.cpu_count()} cores "
        f"({usable} usable); one thread per library",
        f"- load average (1/5/15 min) at start {load_before}, at end {_load()} "
        "(other processes share the machine: ratios of same-round pairs are the robust figures)",
        f"- CPU check (a pure-Python loop of 10^6 additions, best of 5): {cpu_before:.0f} ms at "
        f"start, {cpu_check():.0f} ms at end (the host's speed varies over time; absolute "
        "times, such as the transform time, move with it)",
        *_load_warning(usable),
        f"- Python {platform.python_version()}, NumPy {np.__version__}, s2sad "
        f"{s2sad.__version__} (git {_git_commit()})",
        f"- peers: {peers}",
        f"- method: {settings.min_rounds}–{settings.max_rounds} round-robin rounds per workload, "
        f"inner repeats calibrated to ~{settings.target * 1e3:g} ms per callable per round "
        f"(callables slower than {SLOW_CALL:g} s per call run in the first "
        f"≥{settings.slow_min_rounds} rounds only), medians of same-round ratios, "
        f"float64 everywhere, every gradient checked against the hand-written one "
        f"(max relative error ≤ {RTOL:g}) before timing", ""])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Benchmark s2sad against hand-written "
                                     "gradients and peer AD tools.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small sizes, few rounds (< 1 minute)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this workload (repeatable); one of "
                             + ", ".join(W.BY_NAME))
    parser.add_argument("--skip", action="append", default=[], metavar="TOOL",
                        help="leave out a tool: s2sad, torch, autograd, jax, jax.jit, or "
                             "checkpoint (the checkpointing row and section) (repeatable)")
    parser.add_argument("--output", metavar="PATH",
                        help="write the Markdown here (default: benchmarks/results/latest.md "
                             "for a full run of all workloads; nothing for --quick/--only)")
    ns = parser.parse_args(argv)
    for name in ns.only or ():
        if name not in W.BY_NAME:
            parser.error(f"unknown workload {name!r}; choose from {', '.join(W.BY_NAME)}")
    for tool in ns.skip:
        if tool not in TOOLS + ["checkpoint"]:
            parser.error(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}, checkpoint")
    settings = Settings(ns.quick)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = _load()
    cpu_before = cpu_check()
    t_start = time.perf_counter()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log("checking the hand-written gradients against finite differences ...")
    failures = check.check_all(ns.only, ns.quick, out=sys.stderr)
    if failures:
        log("hand-written gradients are the reference: fix them first")
        return 2

    skip = set(ns.skip)
    lib_skip = {lib for lib in ("torch", "autograd") if lib in skip}
    if "jax" in skip and "jax.jit" in skip:
        lib_skip.add("jax")
    peers, versions = load_peers(lib_skip | (skip & {"jax", "jax.jit"}))
    for lib, ver in versions.items():
        log(f"{lib}: {ver}")

    rng = random.Random(12345)
    results = []
    for w in W.WORKLOADS:
        if ns.only and w.name not in ns.only:
            continue
        log(f"{w.name} ...")
        _sample_load()
        results.append(run_workload(w, peers, settings, skip, rng, log))

    scaling = None
    if "s2sad" not in skip and "checkpoint" not in skip and (not ns.only
                                                              or "pendulum" in ns.only):
        log("checkpointing: pendulum ...")
        _sample_load()
        scaling = checkpoint_scaling(settings, rng, log)
    ckpt_text, ckpt_target = checkpoint_section(scaling) if scaling else (None, None)

    synthetic = None
    if "s2sad" not in skip and not ns.only:
        log("synthetic 100-line function ...")
        _sample_load()
        try:
            synthetic = synthetic_transform(settings)
        except Exception as exc:
            log(f"  synthetic transform failed: {_failure(exc)}")

    summary, notes = summary_table(results, synthetic)
    parts = [header(settings, versions, argv, started, load_before, cpu_before), "## Summary", "",
             "Gradient time over the hand-written gradient's time (median of same-round "
             "ratios); `—`: not measured; `unsupported`/`error`/`WRONG`: see the notes and "
             "the workload's table. `s2sad grad/f`: s2sad gradient over the function itself. "
             "`transform`: time to generate and compile the gradient code. `peak mem`: "
             "tracemalloc peak during one gradient call, s2sad over hand-written (s2sad's "
             "peak in brackets).", "",
             summary, ""]
    if notes:
        parts += ["Notes:", ""] + notes + [""]
    parts += ["## Targets (issue \"Performance\")", "",
              targets(results, synthetic, ckpt_target), ""]
    if ckpt_text:
        parts += [ckpt_text]
    parts += ["## Workloads", ""]
    parts += [workload_table(res) for res in results]
    parts.append(f"Total run time: {time.perf_counter() - t_start:.0f} s.")
    text = "\n".join(parts) + "\n"
    print(text)
    out = ns.output or (RESULTS if not ns.quick and not ns.only else None)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as fh:
            fh.write(text)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

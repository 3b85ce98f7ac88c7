"""Long-mode fuzzing of s2sad with random programs (see tests/fuzz_programs.py).

    python tools/fuzz.py --n 10000 --seed 7
    python tools/fuzz.py --n 2000 --size large --features break,continue --out /tmp/fz
    python tools/fuzz.py --n 500 --features lists,tuples,dicts,while_acc,calls --hessian

``--features``: the default set, a comma-separated list (the opt-in container
features ``lists``, ``tuples``, ``dicts``, ``while_acc`` among them), ``all`` (every
feature; ``vectors`` and ``dicts`` both change ``x``: ``vectors`` wins) or ``none``.
``--hessian`` also checks second derivatives (``hessian``, ``grad(grad(...))``,
``jacobian(grad(...))``) against differences of the gradient.
A program with container features that s2sad refuses with a located S2SADError is
counted as ``refused`` (the messages are summarized: check that they are documented
refusals); an unlocated one is a failure.

Prints a summary by outcome and writes every failing program, with the
generated source, both gradients and the traceback, to ``--out``
(one ``seed_<S>.txt`` and a runnable ``seed_<S>.py`` per failure).
Program ``i`` of a run uses generator seed ``seed * 1_000_000 + i``.
Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import fuzz_programs as fp  # noqa: E402


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _names(text):
    return frozenset(x.strip() for x in text.split(",") if x.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="number of programs")
    ap.add_argument("--seed", type=int, default=0, help="run seed")
    ap.add_argument("--size", default="medium", choices=sorted(fp.SIZES))
    ap.add_argument("--features", default=None,
                    help="comma-separated extra constructs: "
                    + ",".join(sorted(fp.KNOWN_FEATURES))
                    + ", 'all' or 'none' (default: " + ",".join(sorted(fp.FEATURES)) + ")")
    ap.add_argument("--avoid", default=None,
                    help="comma-separated constructs to leave out (default: the known bugs "
                         + ",".join(sorted(fp.KNOWN_BUGS | fp.REFUSED)) + "; '' for none)")
    ap.add_argument("--points", type=int, default=2, help="points checked per program")
    ap.add_argument("--no-forward", action="store_true",
                    help="skip the forward-mode (jvp) cross-check")
    ap.add_argument("--hessian", action="store_true",
                    help="also check second derivatives (first point of each program)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per program")
    ap.add_argument("--out", default=None, help="directory for failing programs "
                                                "(default: a new temporary directory)")
    ap.add_argument("--quiet", action="store_true", help="no per-failure lines")
    args = ap.parse_args(argv)

    if args.features is None:
        features = fp.FEATURES
    elif args.features == "all":
        features = fp.KNOWN_FEATURES
    elif args.features == "none":
        features = frozenset()
    else:
        features = _names(args.features)
    avoid = None if args.avoid is None else _names(args.avoid)
    out = args.out or tempfile.mkdtemp(prefix="s2sad_fuzz_failures_")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="s2sad_fuzz_work_")
    os.environ.setdefault("S2SAD_CACHE_DIR", os.path.join(work, "generated"))
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)

    counts = collections.Counter()
    refusals = collections.Counter()
    points = collections.Counter()
    failures = []
    start = time.time()
    for i in range(args.n):
        seed = args.seed * 1_000_000 + i
        program = fp.generate(seed, features=features, avoid=avoid, size=args.size)
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            result = fp.check(program, work, points=args.points,
                              check_forward=not args.no_forward, check_second=args.hessian)
        except _Timeout:
            result = fp.Result(program, "timeout",
                               details=[f"took more than {args.timeout} s"])
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
        counts[result.status] += 1
        if result.status == "refused":
            refusals[_refusal_kind(result)] += 1
            os.makedirs(os.path.join(out, "refused"), exist_ok=True)
            _write(os.path.join(out, "refused"), result)
        points["checked"] += result.checked
        points["skipped"] += result.skipped
        if result.failed or result.status == "timeout":
            failures.append(result)
            _write(out, result)
            if not args.quiet:
                first = next((d for d in result.details if d.strip()), "").splitlines()
                print(f"seed {seed}: {result.status}: {first[-1] if first else ''}",
                      flush=True)
        for name in os.listdir(work):
            if name.endswith(".py"):
                os.remove(os.path.join(work, name))
    elapsed = time.time() - start

    print(f"\n{args.n} programs in {elapsed:.1f} s ({args.n / max(elapsed, 1e-9):.1f}/s), "
          f"size={args.size}, features={sorted(features)}, "
          f"avoid={sorted(fp.KNOWN_BUGS | fp.REFUSED if avoid is None else avoid)}")
    for status, count in counts.most_common():
        print(f"  {status:12s} {count}")
    print(f"  points compared: {points['checked']}, skipped (FD unreliable): "
          f"{points['skipped']}")
    if refusals:
        print("  refusals:")
        for kind, count in refusals.most_common():
            print(f"    {count:5d}  {kind}")
    if failures:
        print(f"{len(failures)} failing programs written to {out}")
    return 1 if failures else 0


def _refusal_kind(result):
    """The construct of a refusal's message, without file, line and names."""
    import re
    text = "\n".join(result.details)
    m = re.search(r"(unsupported construct: [^(\n]*|[A-Za-z]+Error: [^/\n]*?:\d+(:\d+)?: "
                  r"[^(\n]*|no derivative rule[^\n]*)", text)
    kind = m.group(0) if m else text.splitlines()[0][:100]
    kind = re.sub(r"/\S+:\d+(:\d+)?: ", "", kind)
    second = "second order: " if text.startswith("second order") else ""
    return second + kind.strip()[:110]


def _write(directory, result):
    seed = result.program.seed
    with open(os.path.join(directory, f"seed_{seed}.txt"), "w") as fh:
        fh.write(result.report() + "\n")
    with open(os.path.join(directory, f"seed_{seed}.py"), "w") as fh:
        fh.write(result.program.source)
        fh.write("\n\nif __name__ == '__main__':\n"
                 "    import s2sad\n"
                 "    print(s2sad.source(f, wrt=(0, 1)))\n")


if __name__ == "__main__":
    raise SystemExit(main())

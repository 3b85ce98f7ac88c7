"""Command line: ``s2sad dump FILE.py:FUNC [--wrt 0,1] [--stage STAGE] [options]``.

Prints the generated code of a function in a file; ``--stage all`` prints
every pass. User errors print the located message (no traceback) and exit 1.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import types

from . import api, errors, pipeline


def _load(path_func):
    path, sep, func = path_func.rpartition(":")
    if not sep or not path or not func:
        raise errors.ArgumentError(f"expected FILE.py:FUNCTION, got {path_func!r}")
    if not os.path.isfile(path):
        raise errors.ArgumentError(f"{path}: no such file")
    mod_name = "_s2sad_cli_" + os.path.splitext(os.path.basename(path))[0]
    # (a loader of its own: spec_from_file_location finds none for a name without .py)
    loader = importlib.machinery.SourceFileLoader(mod_name, path)
    spec = importlib.util.spec_from_loader(mod_name, loader)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    sys.modules[mod_name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        raise errors.S2SADError(f"{where}: syntax error: {exc.msg}") from None
    except SystemExit as exc:
        raise errors.S2SADError(f"{path}: importing the file ran sys.exit({exc.code!r}): "
                                "keep the script's work under if __name__ == '__main__'") \
            from None
    except Exception as exc:   # the user's module failed to import
        raise errors.S2SADError(
            f"{path}: importing the file failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    obj = owner = module
    for part in func.split("."):
        if not hasattr(obj, part):
            raise errors.ArgumentError(f"{path}: no function named {func!r}")
        owner, obj = obj, getattr(obj, part)
    if isinstance(obj, type):
        methods = [k for k, v in vars(obj).items() if inspect.isfunction(v)
                   and (not k.startswith("__") or k == "__call__")]
        example = f"{path}:{func}.{methods[0]}" if methods else f"{path}:{func}.method"
        listed = f" (its methods: {', '.join(methods)})" if methods else ""
        raise errors.ArgumentError(
            f"{path}: {func!r} names a class, not a function",
            hint=f"name one of its methods, {example}{listed}")
    if not callable(obj):
        raise errors.ArgumentError(f"{path}: {func!r} is a {type(obj).__name__}, not a function")
    return api._unwrap(obj), owner if isinstance(owner, type) else None


def _instance(cls):
    """An object of class ``cls`` made without running ``__init__``, standing for
    ``self`` in ``dump FILE.py:Class.method`` (so ``self.m(...)`` calls are shown as
    ``grad(obj.method)`` makes them), or None when the class cannot make one so."""
    try:
        return cls.__new__(cls)
    except Exception:           # a class whose __new__ needs arguments
        return None


def _parse_wrt(text):
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise errors.ArgumentError(f"--wrt expects integers like 0 or 0,1, got {text!r}") \
            from None
    return parts[0] if len(parts) == 1 and "," not in text else tuple(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="s2sad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dump = sub.add_parser("dump", help="print the generated code of FILE.py:FUNC")
    dump.add_argument("target", metavar="FILE.py:FUNC")
    dump.add_argument("--wrt", default="0", help="argument indices, e.g. 0 or 0,1")
    dump.add_argument("--stage", default="final",
                      choices=pipeline.STAGE_NAMES + ["forward", "all"])
    dump.add_argument("--mode", default="reverse", choices=["reverse", "forward", "auto"],
                      help="reverse (default), forward (the jvp code) or auto (the code "
                           "grad runs: forward mode for one scalar argument, or two with "
                           "a loop of data-dependent length)")
    dump.add_argument("--arrays", default="",
                      help="comma-separated parameter names that hold arrays "
                           "(the others are taken to be scalars)")
    dump.add_argument("--no-optimize", action="store_true", help="show the raw code")
    dump.add_argument("--checkpoint", action="store_true",
                      help="the code of grad(f, checkpoint=True)")
    dump.add_argument("--fixed-point", action="store_true",
                      help="the code of grad(f, fixed_point=True)")
    args = parser.parse_args(argv)
    try:
        func, owner = _load(args.target)
        wrt = _parse_wrt(args.wrt)
        arrays = {a.strip() for a in args.arrays.split(",") if a.strip()}
        kinds_args = None
        params = [p.name for p in api._signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if owner is not None and inspect.isfunction(func) and params and params[0] == "self":
            # Class.method: the code of grad(obj.method), wrt counted after self
            instance = _instance(owner)
            if instance is not None:
                func, params = types.MethodType(func, instance), params[1:]
        if arrays:
            unknown = arrays - set(params)
            if unknown:
                raise errors.ArgumentError(f"--arrays names unknown parameters: "
                                           f"{', '.join(sorted(unknown))}")
            import numpy as np
            kinds_args = [np.zeros(1) if p in arrays else 0.0 for p in params]
        mode = args.mode
        if mode == "auto":
            mode = api.grad_runs(func, wrt, args=kinds_args, optimize=not args.no_optimize,
                                 checkpoint=args.checkpoint, fixed_point=args.fixed_point)
        every = [n for n, _ in pipeline.stages(mode)]
        stages = every if args.stage == "all" else [args.stage]
        for stage in stages:
            text = api.source(func, wrt, args.mode, args=kinds_args, stage=stage,
                              optimize=not args.no_optimize, checkpoint=args.checkpoint,
                              fixed_point=args.fixed_point)
            if len(stages) > 1:
                print(f"# ---- stage: {stage} ----")
            print(text, end="" if text.endswith("\n") else "\n")
    except errors.S2SADError as exc:
        print(f"s2sad: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:        # output piped into head & co.
        sys.stderr.close()
        return 0
    return 0

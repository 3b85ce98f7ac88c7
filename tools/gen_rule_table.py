#!/usr/bin/env python
"""Write ``docs/rules.md``: every function s2sad can differentiate, from the rule tables.

The table is built from ``s2sad.rules.core.RULES`` (adjoint templates) and
``NONDIFF`` (zero-gradient functions) after every rule module is imported,
plus the array methods and attributes of ``s2sad.rules.methods``. A rule's
note is the first line of its template's docstring. Internal runtime helpers
(registered so generated code can itself be differentiated) are not listed.

Usage::

    python tools/gen_rule_table.py            # rewrite docs/rules.md
    python tools/gen_rule_table.py --check    # exit 1 if docs/rules.md is out of date
    python tools/gen_rule_table.py --stdout   # print the table instead
"""

from __future__ import annotations

import argparse
import builtins
import math
import operator
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import s2sad  # noqa: E402,F401  (registers every rule table)
from s2sad.rules import core, methods  # noqa: E402

OUTPUT = ROOT / "docs" / "rules.md"
COMMAND = "python tools/gen_rule_table.py"

ADJOINT = "adjoint rule"
ZERO = "zero gradient"

SYNTAX = {
    "add": "a + b", "sub": "a - b", "mul": "a * b", "truediv": "a / b", "pow": "a ** b",
    "neg": "-a", "pos": "+a", "matmul": "a @ b", "floordiv": "a // b", "mod": "a % b",
    "lt": "a < b", "le": "a <= b", "gt": "a > b", "ge": "a >= b", "eq": "a == b",
    "ne": "a != b", "not_": "not a", "and_": "a & b", "or_": "a | b", "xor": "a ^ b",
    "invert": "~a", "lshift": "a << b", "rshift": "a >> b", "is_": "a is b",
    "is_not": "a is not b", "contains": "b in a", "truth": "bool(a)", "getitem": "a[i]",
}

# namespace label -> (module object, prefix used in the table)
NAMESPACES = [
    ("operator", operator, "operator."),
    ("builtins", builtins, ""),
    ("math", math, "math."),
    ("numpy", np, "np."),
    ("numpy.linalg", np.linalg, "np.linalg."),
    ("typing", typing, "typing."),
    ("s2sad", s2sad, "s2sad."),
]


def _names_in(module, prim):
    out = []
    for name, obj in vars(module).items():
        if name.startswith("_") or obj is not prim:
            continue
        out.append(name)
    return sorted(out)


def _canonical(prim, names):
    own = getattr(prim, "__name__", None)
    if own in names:
        return own
    return sorted(names, key=lambda n: (len(n), n))[0]


def _first_line(doc):
    """The first paragraph of a docstring, on one line, in Markdown."""
    if not doc:
        return ""
    text = " ".join(doc.strip().split("\n\n")[0].split())
    return text.replace("``", "`").rstrip(".")


def _notes(prim):
    notes = []
    for rule in reversed(core.RULES.get(prim, [])):     # registration order
        line = _first_line(rule.template.__doc__)
        if line and line not in notes:
            notes.append(line)
    return notes


def _kind(prim):
    if prim in core.NONDIFF:
        return ZERO
    if prim in core.RULES:
        return ADJOINT
    return None


def _cell(text):
    return text.replace("|", "\\|")


def function_rows():
    """(namespace, function, kind, notes) for every primitive in a public namespace."""
    rows = []
    seen = set()
    primitives = list(core.RULES) + [p for p in core.NONDIFF if p not in core.RULES]
    for label, module, prefix in NAMESPACES:
        for prim in primitives:
            if id(prim) in seen:
                continue
            names = _names_in(module, prim)
            if not names:
                continue
            if label == "builtins" and getattr(prim, "__module__", None) != "builtins":
                continue
            seen.add(id(prim))
            main = _canonical(prim, names)
            notes = []
            if label == "operator" and main in SYNTAX:
                notes.append(f"`{SYNTAX[main]}`")
            aliases = [n for n in names if n != main]
            if aliases:
                notes.append("also " + ", ".join(f"`{prefix}{a}`" for a in aliases))
            notes += _notes(prim)
            rows.append((label, f"`{prefix}{main}`", _kind(prim), "; ".join(notes)))
    order = {label: i for i, (label, _, _) in enumerate(NAMESPACES)}
    rows.sort(key=lambda r: (order[r[0]], r[1]))
    return rows


def _public_name(prim):
    for _, module, prefix in NAMESPACES:
        names = _names_in(module, prim)
        if names:
            return f"`{prefix}{_canonical(prim, names)}`"
    return None


def method_rows():
    rows = []
    for table, label, fmt in ((methods.METHODS, "ndarray method", "`x.{}()`"),
                              (methods.ATTRIBUTES, "ndarray attribute", "`x.{}`"),
                              (methods.DICT_METHODS, "dict method", "`d.{}()`")):
        for name in sorted(table):
            prim = table[name]
            public = _public_name(prim)
            if public is not None:
                notes = [f"as {public}"]
            else:
                notes = [_first_line(prim.__doc__)] + _notes(prim)
            rows.append((label, fmt.format(name), _kind(prim) or "missing",
                         "; ".join(n for n in notes if n)))
    return rows


def render():
    rows = function_rows()
    mrows = method_rows()
    numpy_rules = [r for r in rows if r[0].startswith("numpy") and r[2] == ADJOINT]
    numpy_zero = [r for r in rows if r[0].startswith("numpy") and r[2] == ZERO]
    counts = {}
    for label, _, kind, _ in rows + mrows:
        counts.setdefault(label, [0, 0])[kind != ADJOINT] += 1
    lines = [
        "# Supported functions",
        "",
        f"Generated by `{COMMAND}` from the rule tables (`s2sad.rules.core.RULES` and",
        "`NONDIFF`, and the method table `s2sad.rules.methods`); do not edit by hand.",
        "`tests/test_rule_table.py` fails when this file is out of date.",
        "",
        "- **adjoint rule**: a template states the derivative (see `s2sad/rules/*.py`);",
        "- **zero gradient**: the function runs, but no derivative flows through it",
        "  (integer-valued, boolean or shape results).",
        "",
        "A function missing here raises `MissingRuleError` when a derivative must flow",
        "through it; register a rule with `s2sad.extend.adjoint` (or `nondiff`).",
        f"Numbers below are generated with NumPy {np.__version__}.",
        "",
        f"NumPy functions with adjoint rules: **{len(numpy_rules)}** (distinct functions;",
        "aliases such as `np.abs`/`np.absolute` count once); "
        f"with zero gradient: {len(numpy_zero)}.",
        "",
        "| namespace | adjoint rules | zero gradient |",
        "|---|---|---|",
    ]
    for label, (n_rule, n_zero) in counts.items():
        lines.append(f"| {label} | {n_rule} | {n_zero} |")
    lines += [
        "",
        "| function | namespace | derivative | notes |",
        "|---|---|---|---|",
    ]
    for label, fn, kind, notes in rows + mrows:
        lines.append(f"| {fn} | {label} | {kind} | {_cell(notes)} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true",
                       help="exit with status 1 if the file is out of date")
    group.add_argument("--stdout", action="store_true", help="print instead of writing")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file to write or check")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

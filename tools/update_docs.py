"""Rewrite the documented outputs of the README and docs after an intended change.

tests/test_examples.py runs every ```python block of README.md, docs/usage.md and
docs/design.md and compares its output with the ```text block that follows
it; it runs every ``$ command`` of a ```console block and compares its output
with the lines below it. When the generated code changes on purpose, this
script runs the same examples the same way and writes their real output back
into the files. Review the diff (``git diff README.md docs``) before committing.

    python tools/update_docs.py
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_examples_test():
    spec = importlib.util.spec_from_file_location("_doc_examples",
                                                  ROOT / "tests" / "test_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_python(t, body):
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "demo.py"
        script.write_text(body)
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp, capture_output=True,
                              text=True, timeout=120, env=t.ENV)
        return proc.returncode, (proc.stdout + proc.stderr).replace(tmp + "/", "")


def _run_console(t, body):
    out = []
    for command, _want in t._console_commands(body):
        proc = subprocess.run(t._argv(command), cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env=t.ENV)
        out.append(f"$ {command}\n{proc.stdout}{proc.stderr}")
    return "".join(out)


def _count(body):
    """Lines of a block's body (an empty block's body is a lone newline)."""
    return 0 if body == "\n" else len(body.splitlines())


def update(doc, t):
    path = ROOT / doc
    lines = path.read_text().splitlines(True)
    blocks = t._fenced_blocks("".join(lines))
    edits = []          # (first body line, end line, new body), applied bottom-up
    for k, (info, body, start, _gap) in enumerate(blocks):
        if info == "python" and k + 1 < len(blocks):
            nxt_info, nxt_body, nxt_start, nxt_gap = blocks[k + 1]
            if nxt_info == "text" and all(not g.strip() for g in nxt_gap):
                rc, out = _run_python(t, body)
                if rc != 0:
                    raise SystemExit(f"{doc}:{start}: the example fails:\n{out}")
                if out != nxt_body:
                    edits.append((nxt_start, nxt_start + _count(nxt_body), out))
        elif info == "console":
            out = _run_console(t, body)
            if out != body:
                edits.append((start, start + _count(body), out))
    for first, end, new in sorted(edits, reverse=True):
        lines[first:end] = [new] if new.endswith("\n") else [new + "\n"]
    if edits:
        path.write_text("".join(lines))
    return [e[0] for e in edits]


def main():
    t = _load_examples_test()
    for doc in t.DOCS:
        changed = update(doc, t)
        for line in changed:
            print(f"updated {doc}:{line + 1}")


if __name__ == "__main__":
    main()

"""The command line: ``python -m s2sad dump FILE.py:FUNC`` and the ``s2sad`` console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from s2sad import pipeline

USER_CODE = textwrap.dedent('''\
    import math

    import numpy as np


    def f(x1, x2):
        return math.log(x1) + x1 * x2 - math.sin(x2)


    def loop(x, n):
        s = x
        for _ in range(n):
            s = math.sin(s) * x
        return s


    def vec(W, x):
        return np.sum(np.tanh(W @ x))


    def bad(x):
        y = x * 2.0
        try:
            y = y + 1.0
        except ValueError:
            pass
        return y


    def gamma(x):
        return math.gamma(x) * 2.0


    def root(a):
        x = 1.0
        while abs(x * x - a) > 1e-12:
            x = 0.5 * (x + a / x)
        return x


    def root_break(a):
        x = 1.0
        while True:
            if abs(x * x - a) < 1e-12:
                break
            x = 0.5 * (x + a / x)
        return x
''')
BAD_LINE = USER_CODE.splitlines().index("    try:") + 1
GAMMA_LINE = USER_CODE.splitlines().index("    return math.gamma(x) * 2.0") + 1
WHILE_TRUE_LINE = USER_CODE.splitlines().index("    while True:") + 1


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "usercode.py"
    path.write_text(USER_CODE)
    return str(path)


def run(*args, script=None):
    cmd = [script] if script else [sys.executable, "-m", "s2sad"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                          env=env)


def assert_user_error(proc, *needles):
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("s2sad: error: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_dump_final(user_file):
    proc = run("dump", f"{user_file}:f", "--wrt", "0,1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "def grad_f(x1, x2):" in proc.stdout
    assert "return (bx1, bx2)" in proc.stdout
    compile(proc.stdout, "<dump>", "exec")


def test_dump_default_wrt(user_file):
    proc = run("dump", f"{user_file}:loop")
    assert proc.returncode == 0, proc.stderr
    assert "def grad_loop(x, n):" in proc.stdout
    assert "_tape.append(" in proc.stdout and "_tape.pop()" in proc.stdout
    assert proc.stdout.rstrip().endswith("return bx")


def test_dump_mode_auto_shows_the_code_grad_runs(user_file):
    proc = run("dump", f"{user_file}:loop", "--mode", "auto")     # one scalar: forward
    assert proc.returncode == 0, proc.stderr
    assert "def grad_loop(x, n):" in proc.stdout
    assert "_tape" not in proc.stdout and proc.stdout.rstrip().endswith("return ds_1")
    proc = run("dump", f"{user_file}:f", "--wrt", "0,1", "--mode", "auto")   # two: reverse
    assert proc.returncode == 0, proc.stderr
    assert "return (bx1, bx2)" in proc.stdout
    proc = run("dump", f"{user_file}:loop", "--mode", "auto", "--stage", "all")
    assert "# ---- stage: forward ----" in proc.stdout
    assert "# ---- stage: reverse ----" not in proc.stdout


def test_dump_checkpoint_and_fixed_point(user_file):
    proc = run("dump", f"{user_file}:loop", "--checkpoint")
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint_interval(" in proc.stdout
    proc = run("dump", f"{user_file}:root", "--fixed-point")
    assert proc.returncode == 0, proc.stderr
    assert "_tape" not in proc.stdout and "for _k1 in range(100000):" in proc.stdout
    assert "fixed_point_unsettled(" in proc.stdout
    plain = run("dump", f"{user_file}:root")
    assert "_tape.pop()" in plain.stdout and "fixed_point" not in plain.stdout


def test_dump_fixed_point_refused(user_file):
    proc = run("dump", f"{user_file}:root_break", "--fixed-point")
    assert_user_error(proc, f"usercode.py:{WHILE_TRUE_LINE}:", "a break with statements after",
                      "drop fixed_point=True")


def test_dump_arrays(user_file):
    proc = run("dump", f"{user_file}:vec", "--wrt", "0,1", "--arrays", "W,x")
    assert proc.returncode == 0, proc.stderr
    assert "matmul_adjoint_a" in proc.stdout and "matmul_adjoint_b" in proc.stdout


def test_dump_all_stages(user_file):
    proc = run("dump", f"{user_file}:f", "--wrt", "0,1", "--stage", "all")
    assert proc.returncode == 0, proc.stderr
    headers = [line for line in proc.stdout.splitlines() if line.startswith("# ---- stage:")]
    assert headers == [f"# ---- stage: {name} ----" for name in pipeline.STAGE_NAMES]
    assert "def grad_f(x1, x2):" in proc.stdout


def test_dump_normal_stage(user_file):
    proc = run("dump", f"{user_file}:f", "--stage", "normal")
    assert proc.returncode == 0, proc.stderr
    assert "# ---- stage:" not in proc.stdout
    assert "def grad_f" not in proc.stdout
    assert "math.log(x1)" in proc.stdout
    assert "bx1" not in proc.stdout      # no adjoints yet
    body = [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert body[-1].startswith("return ")
    # three-address form: at most one operator or call per assignment
    for line in body[:-1]:
        assert line.count("(") <= 1 and line.count(" + ") + line.count(" * ") <= 1, line


def test_bad_path(tmp_path):
    missing = str(tmp_path / "nope.py")
    assert_user_error(run("dump", f"{missing}:f"), missing, "no such file")


def test_bad_target_syntax():
    assert_user_error(run("dump", "just_a_name"), "FILE.py:FUNC")


def test_missing_function(user_file):
    assert_user_error(run("dump", f"{user_file}:nothere"), user_file, "nothere")


def test_unsupported_code(user_file):
    proc = run("dump", f"{user_file}:bad")
    assert_user_error(proc, f"{user_file}:{BAD_LINE}:", "try/except", "hint:")
    assert "    try:" in proc.stderr


def test_missing_rule(user_file):
    proc = run("dump", f"{user_file}:gamma")
    assert_user_error(proc, f"{user_file}:{GAMMA_LINE}:", "math.gamma", "hint:")


def test_wrt_out_of_range(user_file):
    assert_user_error(run("dump", f"{user_file}:f", "--wrt", "0,7"), user_file, "wrt=7")


def test_wrt_not_integers(user_file):
    assert_user_error(run("dump", f"{user_file}:f", "--wrt", "x"), "--wrt", "'x'")


def test_file_with_syntax_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(x):\n    return x +\n")
    assert_user_error(run("dump", f"{path}:f"), f"{path}:2", "syntax error")


def test_file_failing_on_import(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("def f(x):\n    return x\n\nraise RuntimeError('boom at import')\n")
    assert_user_error(run("dump", f"{path}:f"), str(path), "boom at import")


def test_unknown_stage_is_a_usage_error(user_file):
    proc = run("dump", f"{user_file}:f", "--stage", "nonsense")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nonsense" in proc.stderr


@pytest.mark.skipif(shutil.which("s2sad") is None, reason="console script s2sad not on PATH")
def test_console_script(user_file):
    script = shutil.which("s2sad")
    proc = run("dump", f"{user_file}:f", "--wrt", "0,1", script=script)
    assert proc.returncode == 0, proc.stderr
    assert "def grad_f(x1, x2):" in proc.stdout
    assert_user_error(run("dump", f"{user_file}:bad", script=script),
                      f"{user_file}:{BAD_LINE}:", "try/except")


METHODS_CODE = textwrap.dedent('''\
    import math


    class Model:
        def __init__(self, k):
            self.k = k

        def pred(self, x):
            return x * x * self.k

        def loss(self, x, y):
            return self.pred(x) + math.sin(y)
    ''')


def test_dump_a_method_of_a_class(tmp_path):
    """FILE.py:Class.method shows the code of grad(obj.method): wrt counted after self,
    self.pred(x) a call of the class's function (it was refused: 'no derivative rule
    for method self.pred()', with --wrt 0 meaning self)."""
    path = tmp_path / "methods.py"
    path.write_text(METHODS_CODE)
    proc = run("dump", f"{path}:Model.loss", "--wrt", "0,1")
    assert proc.returncode == 0, proc.stderr
    assert "def grad_loss(self, x, y):" in proc.stdout
    assert "check_method(self, 'pred'" in proc.stdout and "return (bx, by)" in proc.stdout
    proc = run("dump", f"{path}:Model.loss", "--mode", "auto")
    assert proc.returncode == 0, proc.stderr
    assert "jvp_pred(self, x, 1.0)" in proc.stdout


def test_a_file_without_the_py_extension_is_read(tmp_path):
    """(spec_from_file_location finds no loader for it: a traceback before)"""
    path = tmp_path / "script"
    path.write_text("def f(x):\n    return x * x\n")
    proc = run("dump", f"{path}:f")
    assert proc.returncode == 0, proc.stderr
    assert "bx = 2.0 * x" in proc.stdout


@pytest.mark.parametrize("text, target, needles", [
    ("import sys\nsys.exit(3)\n", "f", ("ran sys.exit(3)", "__main__")),
    ("def f(x):\n    return x\x00\n", "f", ("syntax error: source code string cannot contain "
                                          "null bytes",)),
    ("v = 3.0\n", "v", ("'v' is a float, not a function",)),
])
def test_odd_files_and_targets_are_user_errors(tmp_path, text, target, needles):
    path = tmp_path / "odd.py"
    path.write_text(text)
    proc = run("dump", f"{path}:{target}")
    assert_user_error(proc, *needles)
    assert ":None:" not in proc.stderr


def test_an_empty_item_in_wrt_is_refused(user_file):
    assert_user_error(run("dump", f"{user_file}:f", "--wrt", "0,,1"), "--wrt expects integers")

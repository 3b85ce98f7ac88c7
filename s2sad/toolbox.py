"""The rest of the AD toolbox, built on the generated functions of :mod:`s2sad.api`.

``jvp`` (forward mode), ``vjp`` (split reverse mode: forward and backward
functions sharing a tape), ``jacobian`` (rows by reverse mode or columns by
forward mode, whichever needs fewer sweeps), ``hessian`` (forward over
reverse: forward mode applied to the generated gradient code),
``elementwise_grad``, ``stop_gradient`` and ``check_grads``.
"""

from __future__ import annotations

import copy
import functools
import types

import numpy as np

from . import argcheck, errors
from .api import (
    GradFunction,
    _call_method,
    _is_complex,
    _item_values,
    _key,
    _parse_wrt,
    _signature,
    _unwrap,
    call_kinds,
    compiled,
    complex_arithmetic,
    methods_too,
    receivers_of,
    refuse_arrays,
    refuse_wrt,
    resolve,
)
from .context import Context
from .rules.core import nondiff
from .runtime import field_of, like_argument, make_like, record_fields


def stop_gradient(x):
    """``x`` itself, through which no derivative flows."""
    return x


nondiff(stop_gradient)


class _Wrapper:
    def __init__(self, func, wrt):
        base = _unwrap(func)
        self._func = func
        self._wrt, self._wrt_tuple = _parse_wrt(base, wrt)
        self._sig = _signature(base)
        self._nparams = len(self._sig.parameters)
        # every parameter positional (no *args, **kwargs, keyword-only): a call giving
        # them all positionally binds them as they come (see _remember)
        self._positional = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                               for p in self._sig.parameters.values())
        self._fast = None       # (number of values, generated code, staleness test): _remember
        functools.update_wrapper(self, base)
        self.__wrapped__ = func

    def _kinds(self, target, args, kwargs=None):
        bound = self._sig.bind(*args, **(kwargs or {}))
        bound.apply_defaults()
        base = _unwrap(self._func)
        kinds = call_kinds(target, bound.arguments, base)
        refuse_arrays(base, kinds, _item_values(base, bound.arguments))
        return kinds

    def _refuse_aliasing(self, impl, args, kwargs):
        """An ArgumentError for one object passed as two arguments, one of which the
        function changes in place (``argcheck.refuse_aliasing``)."""
        bound = self._sig.bind(*args, **kwargs)
        bound.apply_defaults()
        base = _unwrap(self._func)
        argcheck.refuse_aliasing(base, impl.changes, _item_values(base, bound.arguments))

    def _remember(self, args, nprimal, kwargs, kwonly, impl, function):
        """After a call of ``args`` (the first ``nprimal`` the function's arguments) that
        took the general path: remember ``function`` (the generated code ``impl``
        holds) for the next calls of as many values, all floats, every parameter given
        positionally. Such a call is specialized on nothing else (the kinds are 'S',
        there is no object whose classes or attributes to test, no default to fill in,
        no tangent or adjoint shape to check), so it goes straight to the generated
        code, once the code is found not stale (``Context.stale``: a helper redefined,
        a module-level object rebound), as the general path would find it."""
        if self._positional and not kwargs and not kwonly and not impl.changes \
                and nprimal == self._nparams and all(type(a) is float for a in args):
            ctx = impl.ctx
            stale = ctx.stale if isinstance(ctx, Context) else None
            self._fast = (len(args), function, stale)

    def _fast_function(self, args, kwargs):
        """The function ``_remember`` kept, if it serves a call of ``args`` and is not
        stale; else None (a stale one is forgotten: the general path makes it again)."""
        fast = self._fast
        if fast is None or kwargs or len(args) != fast[0]:
            return None
        for a in args:
            if type(a) is not float:
                return None
        if fast[2] is not None and fast[2]():
            self._fast = None
            return None
        return fast[1]

    def _bind(self, args, kwargs, what, hint=None):
        """Every positional parameter's value (defaults filled in, keywords placed), and
        the keyword-only ones; an ArgumentError for a call ``f`` itself would refuse."""
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise errors.bad_argument(_unwrap(self._func),
                                      f"{what} of {self.__name__}: {exc}", hint=hint) from None
        bound.apply_defaults()
        return bound.args, bound.kwargs


class JVPFunction(_Wrapper):
    """``jvp(f, wrt)(*args, *tangents) -> (value, tangent of the output)``."""

    def __call__(self, *args, **kwargs):
        fast = self._fast_function(args, kwargs)
        if fast is not None:
            try:
                value, tangent = fast(*args)
            except Exception as exc:
                errors.note_generated(exc)
                raise
            if type(value) is float and type(tangent) is float:
                return value, tangent
            return self._finish(value, tangent, args[self._nparams:])
        n = len(args) - len(self._wrt)
        if n < 0:
            raise errors.bad_argument(
                _unwrap(self._func),
                f"jvp of {self.__name__} takes its arguments and {len(self._wrt)} "
                f"tangent(s), got {len(args)} values",
                hint="pass the arguments, then one tangent per wrt argument")
        primal, kwonly = self._bind(
            args[:n], kwargs, "jvp", hint=f"pass the arguments, then one tangent per wrt "
            f"argument ({len(self._wrt)} tangent(s): the last {len(self._wrt)} values)")
        if any(i >= len(primal) for i in self._wrt):
            raise errors.bad_argument(
                _unwrap(self._func), f"jvp of {self.__name__}: wrt names a keyword-only "
                "parameter", hint="differentiate along positional parameters")
        refuse_wrt(_unwrap(self._func), self._sig, self._wrt, primal, kwonly)
        tangents = args[n:]
        for i, t in zip(self._wrt, tangents):
            _check_like(t, primal[i], self._func, f"the tangent of argument {i}")
        tangents = tuple(_tangent_like(t, primal[i]) for i, t in zip(self._wrt, tangents))
        target = resolve(self._func, primal, kwonly)
        impl = compiled(target, self._wrt, True, "jvp", self._kinds(target, primal, kwonly),
                        receivers=receivers_of(self._sig.bind(*primal, **kwonly).arguments))
        if impl.changes:
            self._refuse_aliasing(impl, primal, kwonly)
        try:
            value, tangent = impl.function(*primal, *tangents, **kwonly)
        except Exception as exc:
            errors.note_generated(exc)
            raise
        self._remember(args, n, kwargs, kwonly, impl, impl.function)
        return self._finish(value, tangent, tangents)

    def _finish(self, value, tangent, tangents):
        if _is_complex(tangent) and not _is_complex(value) and not _is_complex(tangents):
            raise complex_arithmetic(self._func, "tangent")
        if _holds_dataclass(value):         # a dataclass's tangent: of its class
            tangent = like_argument(tangent, value)
        return value, tangent


class VJPFunction(_Wrapper):
    """``vjp(f, wrt)(*args) -> (value, pullback)``; ``pullback(adjoint)`` gives gradients."""

    def __call__(self, *args, **kwargs):
        fast = self._fast_function(args, kwargs)
        if fast is not None:
            return self._pullback(args, kwargs, *fast)     # (fwd, bwd, tape parameter)
        refuse_wrt(_unwrap(self._func), self._sig, self._wrt, args, kwargs)
        target = resolve(self._func, args, kwargs)
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise errors.bad_argument(_unwrap(self._func),
                                      f"{self.__name__}(): {exc}") from None
        bound.apply_defaults()
        base = _unwrap(self._func)
        kinds = call_kinds(target, bound.arguments, base)
        refuse_arrays(base, kinds, _item_values(base, bound.arguments))
        impl = compiled(target, self._wrt, True, "split", kinds,
                        receivers=receivers_of(bound.arguments))
        if impl.changes:
            self._refuse_aliasing(impl, args, kwargs)
        fwd, bwd = impl.function
        result = self._pullback(args, kwargs, fwd, bwd, impl.ctx.tape_param)
        self._remember(args, len(args), kwargs, {}, impl, (fwd, bwd, impl.ctx.tape_param))
        return result

    def _pullback(self, args, kwargs, fwd, bwd, tape_param):
        """(value, pullback) of a call of ``fwd`` (recording on a new tape, the keyword
        argument ``tape_param``), whose pullback calls ``bwd``."""
        tape = []
        try:
            value = fwd(*args, **kwargs, **{tape_param: tape})
        except Exception as exc:
            errors.note_generated(exc)
            raise
        used = []

        def pullback(adjoint):
            if type(adjoint) is not float or type(value) is not float:
                _check_like(adjoint, value, self._func, "the adjoint given to the pullback")
            try:
                if used:      # the tape is consumed by a backward sweep: record it again
                    fresh = []
                    fwd(*args, **kwargs, **{tape_param: fresh})
                    grads = bwd(adjoint, fresh)
                else:
                    used.append(True)
                    grads = bwd(adjoint, tape)
            except Exception as exc:
                errors.note_generated(exc)
                raise
            if not _floats(grads) and _is_complex(grads):   # the arguments are real
                raise complex_arithmetic(self._func, "gradient (vjp)")  # (refuse_wrt)
            return grads if self._wrt_tuple else grads[0]

        return value, pullback


def _tangent_like(t, like):
    """The tangent ``t`` (of ``like``'s shape, ``_check_like``) as the derivative code
    reads it: an array where ``like`` is one (``1.0`` given for a 0-d array, whose
    code calls ``da.sum()``), of ``like``'s dtype (float64 for an integer array, a
    complex one for a complex ``t``); the items of lists, tuples and dicts alike."""
    if isinstance(like, np.ndarray):
        if isinstance(t, np.ndarray):
            return t
        arr = np.asarray(t)
        dtype = like.dtype if like.dtype.kind in "fc" else np.dtype(np.float64)
        if arr.dtype.kind == "c":
            dtype = np.result_type(dtype, arr.dtype)
        return np.asarray(arr, dtype=dtype).reshape(like.shape)
    if isinstance(like, (list, tuple)) and isinstance(t, (list, tuple)) \
            and len(t) == len(like):
        items = [_tangent_like(u, v) for u, v in zip(t, like)]
        if isinstance(t, list):
            return items
        make = getattr(type(t), "_make", None)
        return make(items) if make is not None else tuple(items)
    if isinstance(like, dict) and isinstance(t, dict):
        return {k: _tangent_like(v, like[k]) if k in like else v for k, v in t.items()}
    return t


def _floats(values):
    """``values`` is a tuple of floats (the gradients of scalar code): nothing to check."""
    if type(values) is not tuple:
        return False
    for v in values:
        if type(v) is not float:
            return False
    return True


def _check_like(given, like, func, what):
    """``given`` (an adjoint of ``like``, or a tangent of it) has ``like``'s shape: one
    of another shape would broadcast into a wrong result, or fail deep inside."""
    if isinstance(like, (tuple, list)):
        if not isinstance(given, (tuple, list)) or len(given) != len(like):
            raise errors.bad_argument(_unwrap(func), f"{what} has another structure than "
                                      f"the value ({type(like).__name__} of {len(like)})")
        for g, v in zip(given, like):
            _check_like(g, v, func, what)
        return
    if _dataclass(like):
        if type(given) is not type(like) and not (
                isinstance(given, dict) and list(given) == list(record_fields(like))):
            raise errors.bad_argument(_unwrap(func), f"{what} has another structure than "
                                      f"the value (a {type(like).__name__})",
                                      hint=f"give a {type(like).__name__} holding one of "
                                           "each field's shape")
        for k in record_fields(like):
            _check_like(field_of(given, like, k), getattr(like, k), func, what)
        return
    if like is None or not isinstance(like, (np.ndarray, np.generic, float, int, complex)):
        return
    if np.shape(given) != np.shape(like):
        raise errors.bad_argument(_unwrap(func), f"{what} has shape {np.shape(given)}, "
                                  f"the value shape {np.shape(like)}",
                                  hint="give one of the value's shape")


@methods_too
def jvp(f, wrt=0):
    return JVPFunction(f, wrt)


@methods_too
def vjp(f, wrt=0):
    return VJPFunction(f, wrt)


def _basis(shape):
    size = int(np.prod(shape)) if shape else 1
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        yield e.reshape(shape) if shape else 1.0


@methods_too
def jacobian(f, wrt=0, mode="auto", _what="jacobian"):
    """Jacobian of ``f`` with shape ``output.shape + input.shape`` (a tuple for tuple ``wrt``);
    of a function returning a tuple of arrays (a gradient along a tuple ``wrt``), JAX's
    blocks: ``jac[o][k]`` of shape ``output[o].shape + input k's shape``. (``_what``: the
    transformation the messages name, ``hessian`` for a hessian.)"""
    wrapper = _Wrapper(f, wrt)
    # the jvp and vjp objects, made on first use and kept: their calls of floats go
    # straight to the generated code (_Wrapper._remember)
    wrapper.sweeps = {}

    @functools.wraps(_unwrap(f))
    def jac(*args, **kwargs):
        args, kwonly = wrapper._bind(args, kwargs, _what)
        if any(i >= len(args) for i in wrapper._wrt):
            raise errors.bad_argument(
                _unwrap(f), f"{_what} of {wrapper.__name__}: wrt names a keyword-only "
                "parameter", hint="differentiate along positional parameters")
        value = f(*args, **kwonly)
        if _is_complex(value):
            raise complex_arithmetic(f, _what)
        ins = [args[i] for i in wrapper._wrt]
        if any(_is_tree(x) for x in ins) or record_fields(value) is not None \
                or (isinstance(value, (tuple, list)) and mode != "rev"):
            # (a tuple of arrays, hessian(f, wrt=(0, 1)) of arrays: JAX's blocks
            # h[o][k] = d out[o] / d arg k, of shape out[o].shape + arg k's shape)
            return _tree_jacobian(f, wrapper, mode, args, kwonly, value, ins)
        out_shape = np.shape(value)
        in_size = sum(int(np.size(x)) for x in ins)
        # a tuple or list of outputs (grad(f, wrt=(0, 1)) of two scalars): by columns,
        # whose tangents have its structure; a pullback would want an adjoint of it
        structured = isinstance(value, (tuple, list))
        if isinstance(value, dict) or (structured and mode == "rev"):
            raise errors.bad_argument(
                _unwrap(f), f"{_what} of {wrapper.__name__}"
                + (" with mode='rev'" if mode == "rev" else "")
                + f": the function returns a {type(value).__name__}, not an array or a "
                "number", hint="return np.array([...]) of the outputs"
                + ("" if isinstance(value, dict) else ", or use mode='fwd' or 'auto'"))
        use_rows = not structured and (
            mode == "rev" or (mode == "auto" and int(np.prod(out_shape)) <= in_size))
        blocks = []
        if use_rows:
            _, pullback = _sweep(wrapper, VJPFunction, f)(*args, **kwonly)
            rows = [pullback(e) for e in _basis(out_shape)]
            rows = [r if isinstance(r, tuple) else (r,) for r in rows]
            for k, x in enumerate(ins):
                stacked = np.array([np.asarray(r[k], dtype=float) for r in rows])
                blocks.append(stacked.reshape(out_shape + np.shape(x)))
        else:
            forward = _sweep(wrapper, JVPFunction, f)
            for k, x in enumerate(ins):
                cols = []
                for e in _basis(np.shape(x)):
                    tangents = [e if j == k else _zero_tangent(ins[j]) for j in range(len(ins))]
                    cols.append(np.asarray(forward(*args, *tangents, **kwonly)[1],
                                           dtype=float))
                # in.size x out.shape (none for an empty x: its block is empty)
                stacked = np.array(cols).reshape((len(cols),) + out_shape)
                stacked = np.moveaxis(stacked, 0, -1)
                blocks.append(stacked.reshape(out_shape + np.shape(x)))
        return tuple(blocks) if wrapper._wrt_tuple else blocks[0]

    return jac


def _sweep(wrapper, cls, f):
    """The ``cls`` (``JVPFunction`` or ``VJPFunction``) object of ``f`` along the
    jacobian's ``wrt``, made once per jacobian (``wrapper.sweeps``)."""
    made = wrapper.sweeps.get(cls)
    if made is None:
        made = wrapper.sweeps[cls] = cls(f, wrapper._wrt)
    return made


def _zero_tangent(x):
    return np.zeros(np.shape(x)) if isinstance(x, np.ndarray) else 0.0


_CONTAINERS = (list, tuple, dict)


def _dataclass(x):
    """``x`` is an instance of a dataclass (a record whose fields are read by name)."""
    return hasattr(x, "__dataclass_fields__") and record_fields(x) is not None


def _is_tree(x):
    """``x`` is a container of JAX's pytrees: a list, a tuple (named ones too), a dict or
    a dataclass instance."""
    return isinstance(x, _CONTAINERS) or _dataclass(x)


def _holds_dataclass(x):
    if _dataclass(x):
        return True
    if isinstance(x, (list, tuple)):
        return any(_holds_dataclass(v) for v in x)
    if isinstance(x, dict):
        return any(_holds_dataclass(v) for v in x.values())
    return False


def _flatten(x):
    """(the leaves of ``x``, a function building ``x``'s structure from new leaves):
    lists, tuples (named ones too), dicts and dataclass instances of numbers and arrays,
    nested, as JAX's pytrees (a dict's keys in its order, a dataclass's fields in
    theirs)."""
    if not _is_tree(x):
        return [x], lambda leaves: leaves[0]
    record = not isinstance(x, _CONTAINERS)
    keys = record_fields(x) if record else list(x) if isinstance(x, dict) else range(len(x))
    parts = [_flatten(getattr(x, k) if record else x[k]) for k in keys]
    sizes = [len(leaves) for leaves, _ in parts]

    def unflatten(leaves):
        items, i = [], 0
        for (_, build), n in zip(parts, sizes):
            items.append(build(leaves[i:i + n]))
            i += n
        if record:
            return make_like(x, dict(zip(keys, items)))
        if isinstance(x, dict):
            return dict(zip(keys, items))
        if isinstance(x, list):
            return items
        make = getattr(type(x), "_make", None)
        return make(items) if make is not None and type(x) is not tuple else tuple(items)
    return [leaf for leaves, _ in parts for leaf in leaves], unflatten


def _leaves_like(t, like):
    """The leaves of ``t`` (a tangent or a gradient of ``like``), as float arrays of the
    shapes of ``like``'s leaves; the 0.0 standing for a zero of any structure gives
    zeros."""
    if _dataclass(like):
        if type(t) is float and t == 0.0:
            return [np.zeros(np.shape(leaf)) for leaf in _flatten(like)[0]]
        return [leaf for k in record_fields(like)
                for leaf in _leaves_like(field_of(t, like, k), getattr(like, k))]
    if isinstance(like, _CONTAINERS):
        keys = list(like) if isinstance(like, dict) else range(len(like))
        if not isinstance(t, _CONTAINERS):          # 0.0: no derivative reaches it
            return [np.zeros(np.shape(leaf)) for leaf in _flatten(like)[0]]
        return [leaf for k in keys for leaf in _leaves_like(t[k], like[k])]
    return [np.broadcast_to(np.asarray(t, dtype=float), np.shape(like))]


def _tree_jacobian(f, wrapper, mode, args, kwonly, value, ins):
    """``jacobian`` along arguments that are lists, tuples or dicts (pytrees), as JAX's:
    the output's structure, each leaf of it replaced by the structure of the argument
    (a tuple of them for a tuple ``wrt``) whose leaves are the blocks, of shape
    ``output leaf shape + argument leaf shape``."""
    out_leaves, out_build = _flatten(value)
    flat = [_flatten(x) for x in ins]
    out_size = sum(int(np.size(v)) for v in out_leaves)
    in_size = sum(int(np.size(v)) for leaves, _ in flat for v in leaves)
    # blocks[o][k][l]: d(output leaf o) / d(leaf l of argument k), of shapes out + in
    blocks = [[[None] * len(leaves) for leaves, _ in flat] for _ in out_leaves]
    if mode == "rev" or (mode == "auto" and out_size <= in_size):
        _, pullback = _sweep(wrapper, VJPFunction, f)(*args, **kwonly)
        for o, leaf in enumerate(out_leaves):
            rows = []
            for e in _basis(np.shape(leaf)):
                seeds = [_zero_tangent(np.asarray(v)) for v in out_leaves]
                seeds[o] = e
                grads = pullback(out_build(seeds))         # a tuple: wrt is one
                rows.append([_leaves_like(g, x) for g, x in zip(grads, ins)])
            for k, (leaves, _) in enumerate(flat):
                for m, x in enumerate(leaves):
                    stacked = np.array([row[k][m] for row in rows])
                    blocks[o][k][m] = stacked.reshape(np.shape(leaf) + np.shape(x))
    else:
        forward = _sweep(wrapper, JVPFunction, f)
        for k, (leaves, build) in enumerate(flat):
            for m, x in enumerate(leaves):
                cols = []
                for e in _basis(np.shape(x)):
                    seeds = [_zero_tangent(np.asarray(v)) for v in leaves]
                    seeds[m] = e
                    tangents = [build(seeds) if j == k else
                                flat[j][1]([_zero_tangent(np.asarray(v)) for v in flat[j][0]])
                                for j in range(len(ins))]
                    cols.append(_leaves_like(forward(*args, *tangents, **kwonly)[1], value))
                for o, leaf in enumerate(out_leaves):
                    stacked = np.array([col[o] for col in cols])    # in.size x out.shape
                    stacked = np.moveaxis(stacked.reshape((len(cols),) + np.shape(leaf)), 0,
                                          -1)
                    blocks[o][k][m] = stacked.reshape(np.shape(leaf) + np.shape(x))
    per_output = []
    for o in range(len(out_leaves)):
        trees = tuple(build(blocks[o][k]) for k, (_, build) in enumerate(flat))
        per_output.append(trees if wrapper._wrt_tuple else trees[0])
    return out_build(per_output)


@methods_too
def hessian(f, wrt=0):
    """Hessian by forward mode over the generated reverse-mode gradient."""
    if isinstance(wrt, (tuple, list)) and len(set(wrt)) != len(wrt):
        raise errors.bad_argument(_unwrap(f), f"hessian wrt={tuple(wrt)} names an argument "
                                  "twice", hint="give each argument once: its block of the "
                                  "Hessian is there once")
    return jacobian(GradFunction(f, wrt, "grad"), wrt, mode="fwd", _what="hessian")


@methods_too
def elementwise_grad(f, wrt=0):
    """Sum of the Jacobian's rows: the derivative of an elementwise ``f`` at every element."""
    def egrad(*args, **kwargs):
        value, pullback = VJPFunction(f, wrt)(*args, **kwargs)
        return pullback(np.ones_like(value) if isinstance(value, np.ndarray) else 1.0)
    return functools.wraps(_unwrap(f))(egrad)


def check_grads(f, args, modes=("fwd", "rev"), order=2, eps=1e-6, rtol=1e-5, atol=1e-6,
                seed=0):
    """Check derivatives of ``f`` at ``args`` against central finite differences in
    random directions; raise AssertionError with the figures on a mismatch.

    ``rev`` checks ``grad`` (or ``vjp`` for array outputs), ``fwd`` checks ``jvp``;
    ``order=2`` also checks the derivative of the gradient (forward over reverse). The
    arguments moved are the floats, the float arrays, and the lists, tuples (named
    tuples) and dicts of them; the others are passed as they are. Every evaluation gets
    private (deep) copies of the arguments, so a function changing its arguments in
    place changes neither the caller's objects nor the next evaluation's.
    """
    rng = np.random.default_rng(seed)
    f = _call_method(f)
    if isinstance(f, types.MethodType) and isinstance(args, (tuple, list)):
        f, args = f.__func__, (f.__self__, *args)       # obj is no float: not checked
    if not isinstance(args, (tuple, list)):
        raise errors.bad_argument(_unwrap(f), "check_grads takes the arguments as a tuple",
                                  hint="write check_grads(f, (x,)) for one argument")
    args = tuple(args)
    try:
        _signature(f).bind(*args)
    except TypeError as exc:
        raise errors.bad_argument(_unwrap(f), f"check_grads of {_unwrap(f).__name__}: {exc}",
                                  hint="give args as f takes them, positionally") from None
    wrt = tuple(i for i, a in enumerate(args) if _is_float_tree(a))
    if not wrt:
        raise errors.bad_argument(_unwrap(f), "check_grads needs at least one float argument "
                                  "(or a list, tuple or dict of them)")
    dirs = tuple(_tree_map(lambda leaf: _random_like(leaf, rng), args[i]) for i in wrt)

    def moved(h=None):
        """Private copies of the arguments, the float ones moved by ``h`` along
        ``dirs``: ``f`` may change its arguments in place (append to a list, ``a *=
        2.0``), which must neither change the caller's objects nor the next
        evaluation's."""
        new = _private(args)
        if h is not None:
            for i, d in zip(wrt, dirs):
                new[i] = _tree_map(lambda a, b: a + h * b, args[i], d)
        return new

    def tangents():
        return [_tree_map(_private_leaf, d) for d in dirs]

    value = f(*moved())
    fd = (np.asarray(f(*moved(eps)), dtype=float) - np.asarray(f(*moved(-eps)), dtype=float)) \
        / (2 * eps)
    if "fwd" in modes:
        _, t = JVPFunction(f, wrt)(*moved(), *tangents())
        _close(t, fd, "forward mode (jvp)", rtol, atol)
    if "rev" in modes:
        u = _random_like(value, rng)
        _, pullback = VJPFunction(f, wrt)(*moved())
        grads = pullback(_private_leaf(u))
        got = sum(_tree_dot(g, d) for g, d in zip(grads, dirs))
        _close(got, float(np.sum(u * fd)), "reverse mode (vjp)", rtol, atol)
    if order >= 2 and np.ndim(value) == 0 and "rev" in modes:
        g = GradFunction(f, wrt, "grad")
        gp = g(*moved(eps))
        gm = g(*moved(-eps))
        _, hv = JVPFunction(g, wrt)(*moved(), *tangents())
        for a, b, c in zip(hv, gp, gm):
            want = _tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * eps), b, c)
            _tree_map(lambda x, y: _close(x, y, "second order (fwd over rev)", rtol * 100,
                                          atol * 100), a, want)
    return True


def _private(args):
    """A list of deep copies of ``args`` (one ``deepcopy``, so two arguments that are
    one object stay one object); an argument that cannot be copied (a module, an object
    refusing ``deepcopy``) is passed as it is."""
    try:
        return list(copy.deepcopy(tuple(args)))
    except Exception:       # (deepcopy runs the objects' own __deepcopy__/__reduce__)
        return [_private_one(a) for a in args]


def _private_one(a):
    try:
        return copy.deepcopy(a)
    except Exception:
        return a


def _private_leaf(x):
    return x.copy() if isinstance(x, np.ndarray) else x


def _is_float(a):
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _is_float_tree(a):
    """A float, a float array, or a list, tuple (named tuple) or dict of them (not
    empty): the arguments ``check_grads`` moves, leaf by leaf."""
    if isinstance(a, (list, tuple)):
        return bool(a) and all(_is_float_tree(v) for v in a)
    if isinstance(a, dict):
        return bool(a) and all(_is_float_tree(v) for v in a.values())
    return _is_float(a)


def _tree_map(fn, tree, *rest):
    """``fn`` leaf by leaf over ``tree`` and trees of its structure, in that structure
    (a list, a tuple of its type, a dict of its keys)."""
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v, *(r[k] for r in rest)) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        items = [_tree_map(fn, v, *(r[i] for r in rest)) for i, v in enumerate(tree)]
        if isinstance(tree, list):
            return items
        make = getattr(type(tree), "_make", None)
        return make(items) if make is not None else tuple(items)
    return fn(tree, *rest)


def _tree_dot(a, b):
    """The sum over the leaves of the products of ``a`` and ``b``, trees of one structure
    (``a`` a gradient, as ``like_argument`` makes it)."""
    total = []
    _tree_map(lambda y, x: total.append(float(np.sum(np.asarray(x) * y))), b, a)
    return sum(total)


def _random_like(x, rng):
    if np.ndim(x) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _close(got, want, what, rtol, atol):
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        raise AssertionError(f"check_grads: {what} gives {got}, finite differences give {want}")


__all__ = ["jvp", "vjp", "jacobian", "hessian", "elementwise_grad", "stop_gradient",
           "check_grads", "_key"]

"""What every pass knows about the function being transformed."""

from __future__ import annotations

import builtins
import types
import weakref
from dataclasses import dataclass, field

from . import rulestamp
from .naming import Namer
from .parse import plain

_UNSEEN = object()


@dataclass
class Context:
    func: object                    # the user's Python function
    wrt: tuple                      # indices of the parameters to differentiate
    kinds: dict                     # parameter name -> its kind (s2sad/kinds.py: 'S', 'A2', ...)
    wrt_tuple: bool = False         # return a tuple of gradients even for one wrt
    output: str = "grad"            # 'grad' or 'value_and_grad'
    mode: str = "reverse"
    optimize: bool = True
    callee: bool = False
    params_escape: bool = False     # the caller sees in-place writes into the parameters
    checkpoint: bool = False        # trade recomputation for tape memory in long loops
    fixed_point: bool = False       # while loops: adjoint of the limit, not of each iteration
    has_aux: bool = False           # the function returns (value, aux): aux is passed through
    directions: int = 1             # jvp: tangent directions (callee along several arguments)
    receivers: dict = field(default_factory=dict)   # parameter -> class of its object (self)
    dicts: frozenset = frozenset()  # the parameters known to hold dicts (the others of kind
                                    # 'L' are taken for lists: aliasing.maybe_dict)
    scalar_item_dicts: frozenset = frozenset()  # dict parameters of scalars read only, and
                                    # copies of such stored scalars into, whose items are
                                    # scalars (activity._scalar_item_dicts, infer_kinds)
    method_calls: dict = field(default_factory=dict)  # name called -> what its self holds
                                    # ({'': class, '.inner': class}), for self.m(...),
                                    # self.inner.m(...), l.m(...) (parse.bind_methods)
    receiver_reads: list = field(default_factory=list)  # (name, global path or None, the
                                    # object when None, receivers_of({name: it})) for
                                    # for l in LAYERS (parse.bind_methods) and NET.f(x)
                                    # (normalize): other classes since make the code stale
    method_reads: list = field(default_factory=list)  # (class, name, what it held): methods
                                    # the code calls for self.m(...) (parse.bind_methods)
    aux_name: str = None            # compiled for a call from other differentiated code
    aux_parts: set = field(default_factory=set)   # has_aux, several returns: each return's
                                    # aux goes to one name, and its SSA versions
    # filled by parse
    filename: str = "<unknown>"
    firstlineno: int = 1
    col_shift: int = 0
    source_text: str | None = None    # the def's text (parse.run), if read from one
    name: str = "f"
    params: list = field(default_factory=list)
    local_names: set = field(default_factory=set)
    namer: Namer = field(default_factory=Namer)
    tape_param: str = None           # split mode: name of the tape parameter
    # split callee: (name, parameters) of each further list parameter, which records values
    # carrying no derivative that depend on those parameters only (reverse.tape_for)
    itape_params: list = field(default_factory=list)
    edges: dict = None               # activity's dependency edges, for the reverse pass
    # split callee: the list parameters carrying derivatives it appends to or pops from,
    # whose adjoints its bwd takes and gives back updated (reverse.Reverse.run)
    list_params: list = field(default_factory=list)
    return_node: object = None       # the user's return statement, for errors
    # filled by later passes
    active: set = field(default_factory=set)
    active_by: dict = field(default_factory=dict)    # forward mode: wrt name -> its actives
    mutable: set = field(default_factory=set)        # names of arrays written in place
    return_shares: set = field(default_factory=set)  # parameters the result may share memory with
    return_aliases: set = field(default_factory=set)  # list parameters it may be (or an item of)
    # containers held in the attributes of objects given (o.xs): (the changes of them by
    # paths from the parameters -> (verb, the parameters the values carry derivatives
    # of), the paths read, the path of what the function returns or None), for callers
    # (aliasing.check_held_fills)
    held_summary: tuple = ({}, frozenset(), None)
    # the names bound to a list held in an attribute of an object that the function only
    # appends to (a log: o.log.append(v), never read): the reverse sweep leaves what it
    # appends there, as the function and forward mode do (aliasing.check_held_fills)
    held_logs: set = field(default_factory=set)
    param_writes: dict = field(default_factory=dict)  # parameter -> (line, text) updating it in place
    param_appends: set = field(default_factory=set)  # list parameters appended to or popped from
    # calls of user functions appending to (or popping from) a list the function built:
    # (the call's statement, the list) (aliasing.check_appends_under_holders)
    list_fills: list = field(default_factory=list)
    param_stores: dict = field(default_factory=dict)  # parameter -> its first store p[i] = v
    # parameter -> the first statement changing it in place as the caller sees it (a store
    # p[i] = v, p.append(v), p.pop()): what a call passing one object as two arguments,
    # one of them changed, is refused for (api.changes_of)
    param_changes: dict = field(default_factory=dict)
    entry_copies: set = field(default_factory=set)    # parameters copied at entry (normalize)
    # parameter -> (line, text) or None: one a function of yours the function calls
    # changes in place (fill(L, v)), found by a first run of the passes; copied at entry
    # in the second, as a parameter the function changes itself (pipeline.run)
    callee_changed: dict = field(default_factory=dict)
    global_stores: dict = field(default_factory=dict)  # global name -> its first store G[i] = v
    global_writes: dict = field(default_factory=dict)  # global name -> (line, text), callees too
    # global name of global_writes -> the function of whose module it is (a callee's:
    # argcheck finds the object there), where not this function
    global_owners: dict = field(default_factory=dict)
    global_reads: dict = field(default_factory=dict)   # global array/list/dict name -> id of it
    primal_temps: set = field(default_factory=set)   # temporaries of the user's code
    var_kinds: dict = field(default_factory=dict)
    classified: dict = field(default_factory=dict)  # id(assignment) -> (it, its value, Op)
    written: dict = field(default_factory=dict)     # id(statement) -> (it, stores(it))
    shapes: dict = field(default_factory=dict)       # name -> shape class (shapes.py)
    shape_witness: dict = field(default_factory=dict)  # shape class -> a name at hand
    injected: dict = field(default_factory=dict)   # generated-code name -> object
    injected_names: dict = field(default_factory=dict)  # template name -> generated name
    # generated name of an object the normal form made a constant -> the user's name
    # for it (``A`` of ``A.add(x)``, a method of a global object), for messages
    shown_names: dict = field(default_factory=dict)
    global_reads: dict = field(default_factory=dict)   # dotted global name -> the function read
    deps: list = field(default_factory=list)           # compiled callees (api.compiled)
    snapshots: set = field(default_factory=set)    # names of what a store overwrote, kept
                                    # for the reverse sweep to put back (reverse, restores)
    maybe_none: set = field(default_factory=set)   # names SSA may leave at its None marker
    looked_up: dict = field(default_factory=dict)  # dotted name -> lookup(it), once found
    origin: object = None   # the context of the code the function is (generated code)
    super_names: set = field(default_factory=set)  # temporaries bound to super()
    rules_at: int = field(default_factory=lambda: rulestamp.changes)  # rule tables' count
    # the function's default values when its code was made (the generated signature
    # copies them): f.__defaults__ = (...) makes it stale
    defaults_at: tuple = (None, None)

    @property
    def wrt_names(self):
        return [self.params[i] for i in self.wrt]

    def release(self):
        """Once the code is compiled: drop the namer, which only the passes read (its
        tables name every name of the transform: most of what a cached specialization
        would keep), and hold the function by a weak proxy, which ``stale`` reads
        through: the cache of specializations holds the context, and keeps it only as
        long as the function lives (``fncache.FunctionCache``)."""
        self.namer = None
        try:
            self.func_ref = weakref.ref(self.func)      # (api._freshness)
            self.func = weakref.proxy(self.func)
        except TypeError:       # it takes no weak reference: cached for good anyway
            pass

    def function_now(self):
        """The function itself (not the weak proxy ``release`` left), or None if it is
        gone."""
        ref = self.__dict__.get("func_ref")
        return self.func if ref is None else ref()

    def may_contain(self, word):
        """Whether the text of the def holds ``word`` (True when no text was read): the
        test, cheaper than a walk of the tree, that a construct (``with``, ``yield``,
        ``:=``) is not in the function at all."""
        return self.source_text is None or word in self.source_text

    def lookup(self, dotted):
        """Resolve a dotted name as the user's function sees it, or raise KeyError; a
        wrapper that only forwards the call (``parse.plain``) resolves to the function
        it calls. Remembered for the transformation (the passes ask again and again)."""
        hit = self.looked_up.get(dotted, _UNSEEN)
        if hit is _UNSEEN:
            hit = self.looked_up[dotted] = plain(self._lookup(dotted))
        return hit

    def _lookup(self, dotted):
        obj = self._resolve(dotted)
        if dotted.split(".", 1)[0] not in self.injected and (
                type(obj) is types.FunctionType
                or "." not in dotted and callable(obj) and not isinstance(obj, type)
                and (dotted in self.func.__globals__
                     or dotted in self.func.__code__.co_freevars)):
            # a function of the module (or a function of a library bound to a name of
            # its own, from numpy import tanh as act), its derivative code made now: a
            # rebinding (helper redefined) makes the generated code stale (api.compiled)
            self.global_reads[dotted] = obj
        return obj

    def _resolve(self, dotted):
        """What the dotted name is now, as the user's function sees it (KeyError if
        nothing): recorded nowhere, so that ``_stale`` can compare it with what the
        code was made for."""
        head, *rest = dotted.split(".")
        func = self.func
        code = func.__code__
        if head in self.injected:
            obj = self.injected[head]
        elif head in code.co_freevars and func.__closure__:
            cell = func.__closure__[code.co_freevars.index(head)]
            obj = cell.cell_contents
        elif head in func.__globals__:
            obj = func.__globals__[head]
        elif hasattr(builtins, head):
            obj = getattr(builtins, head)
        else:
            raise KeyError(dotted)
        for part in rest:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise KeyError(dotted) from None
        return obj

    def stale(self):
        """A function the generated code was made for has been rebound since (a helper
        redefined), here or in a function it calls; or is gone (the weak proxy of
        ``release`` dead: made again for what is there now)."""
        try:
            return self._stale()
        except ReferenceError:
            return True

    def _stale(self):
        if self.rules_at != rulestamp.changes:
            return True         # a rule registered since: it may be one the code used
        func = self.func
        if getattr(func, "__defaults__", None) is not self.defaults_at[0] \
                or getattr(func, "__kwdefaults__", None) is not self.defaults_at[1]:
            return True
        if self.origin is not None and self.origin.stale():
            return True
        for dotted, obj in self.global_reads.items():
            try:
                if not _same(self._resolve(dotted), obj):
                    return True
            except KeyError:
                return True
        for cls, name, raw in self.method_reads:
            if class_attribute(cls, name) is not raw:
                return True
        if self.receiver_reads:
            from .api import receivers_of
            for name, path, obj, found in self.receiver_reads:
                try:
                    now = receivers_of({name: self._resolve(path) if path else obj})
                except KeyError:
                    return True
                if now != found:
                    return True
        return any(dep.ctx.stale() for dep in self.deps if isinstance(dep.ctx, Context))

    def inject(self, template_name, obj):
        """Name under which the generated code reaches ``obj`` (a module or helper).

        ``template_name`` is kept unless the user's function means something else
        by it, in which case the namer picks a fresh spelling.
        """
        key = (template_name, id(obj))
        if key in self.injected_names:
            return self.injected_names[key]
        try:
            same = self.lookup(template_name) is obj
        except KeyError:
            same = False
        taken_by_other = template_name in self.injected \
            and self.injected[template_name] is not obj
        if template_name not in self.local_names and not taken_by_other and (
                same or template_name not in self.namer.taken):
            name = template_name
            self.namer.taken.add(name)
            if not same:
                # a global of that name the function does not read (a method f of a
                # global object, where the module has a function f): what the lookup
                # above found and remembered is not what the name means now
                self.looked_up.pop(name, None)
                self.global_reads.pop(name, None)
        else:
            name = self.namer.fresh(template_name)
        self.injected_names[key] = name
        self.injected[name] = obj
        return name


_ABSENT = object()


def _same(now, then):
    """``now`` is what ``then`` was: the same object, or a method bound anew to the same
    object (``model.loss`` read again: a new bound method each time)."""
    return now is then or (type(now) is types.MethodType and type(then) is types.MethodType
                           and now.__func__ is then.__func__ and now.__self__ is then.__self__)


def class_attribute(cls, name):
    """What ``name`` is in the class ``cls`` or the first of its bases that has it (as
    ``inspect.getattr_static`` finds it, faster), or ``_ABSENT``."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name, _ABSENT)
        if found is not _ABSENT:
            return found
    return _ABSENT

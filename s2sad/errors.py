"""Every error s2sad raises, and the catalogue of their messages.

Each error names the user's ``file:line`` (and column when known), shows the
offending source line with a caret, says what went wrong and what to do.
Passes never build message strings themselves: they call the helpers at the
bottom of this module so the wording stays in one place.
"""

from __future__ import annotations

import linecache

# generated file -> (the file it was generated from, {generated line: line there}, the
# generated function's name), filled by ``codegen.compile_functions``: an error found
# in generated code (a gradient differentiated again) is located in the user's file
GENERATED = {}


def _origin(filename, lineno):
    """The user's file and line a generated line comes from (through every level of
    generated code), or None when ``filename`` is not generated code."""
    if filename not in GENERATED:
        return None
    seen = set()
    while filename in GENERATED and filename not in seen:
        seen.add(filename)
        source, lines, _ = GENERATED[filename]
        earlier = [g for g in lines if lineno is not None and g <= lineno]
        lineno = lines[max(earlier)] if earlier else None
        filename = source
    return filename, lineno


def note_generated(exc):
    """Add to ``exc``, an exception raised while generated code ran (``math.sqrt`` of
    0 has an infinite derivative: ``1.0 / 0.0`` in the gradient of a function that is
    fine there), a note naming the line of the user's function whose derivative code
    raised it, and the generated line: the type of the exception is the one Python
    raised. Python 3.11 and later print notes with the traceback (``add_note``);
    without it, nothing is added."""
    if isinstance(exc, S2SADError) and exc.filename is not None \
            or not isinstance(exc, S2SADError) and not hasattr(exc, "add_note"):
        return
    tb, frames = exc.__traceback__, []
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in GENERATED:
            frames.append((name, tb.tb_lineno))
        tb = tb.tb_next
    if not frames:
        return
    import os
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    # the innermost generated line of the user's code: not one of the derivative code
    # of s2sad's own helpers (a gradient differentiated again calls them), whose origin
    # is in s2sad's files
    found, inner = frames[-1], None
    for frame in reversed(frames):
        origin = _origin(*frame)
        if origin is not None and origin[0] and not os.path.abspath(origin[0]).startswith(here):
            found = frame
            break
        if inner is None and origin is not None:
            inner = origin
    origin = _origin(*found)
    if origin is None or origin[1] is None:
        return
    (filename, lineno), (gen_file, gen_line) = origin, found
    if isinstance(exc, S2SADError):     # a rule's refusal (RuleLimitError): at that line
        if found != frames[-1] and inner is not None:
            where = os.path.basename(inner[0]) + (f":{inner[1]}" if inner[1] else "")
            exc.message += (f" (in the derivative code of s2sad's own {where}, which the "
                            "derivative code of this line calls)")
            exc.hint = ("s2sad's derivative code for this line cannot be differentiated "
                        "again this way: take the second derivative another way "
                        "(s2sad.hessian: forward over reverse), or compute this value "
                        "outside the function you differentiate")
        exc.filename, exc.lineno = filename, lineno
        exc.args = (exc._format(),)
        return
    text = linecache.getline(filename, lineno).strip()
    generated = linecache.getline(gen_file, gen_line).strip()
    note = (f"s2sad: raised by the derivative code of {filename}:{lineno} ({text}), at "
            f"generated line {gen_line}: {generated}")
    if isinstance(exc, TypeError) and "NoneType" in str(exc):
        note += ("; the generated code holds None for a name your function may leave "
                 "unbound (bound only in a branch not taken or in a loop that ran no "
                 "iteration), where the function itself raises UnboundLocalError")
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


class S2SADError(Exception):
    """Base class of every error s2sad raises on purpose."""

    def __init__(self, message, *, filename=None, lineno=None, col=None, hint=None,
                 mode=None):
        origin = _origin(filename, lineno)
        if origin is not None:
            what = GENERATED[filename][2]
            message = (f"{message}, in the derivative code s2sad generated for this line "
                       f"({what}, {filename}:{lineno})")
            if not isinstance(self, NonScalarOutputError):      # (its own hint fits)
                hint = ("s2sad cannot differentiate the derivative code of this line again "
                        "this way. Lists grown by append or built by a comprehension: "
                        "compute the values into a NumPy array or separate variables "
                        "instead.")
                if mode != "forward":   # (mode: of the transform that refused; hessian's
                    # is forward mode)
                    hint += (" A call of your own function: take the second derivative "
                             "with s2sad.hessian (forward over reverse), not reverse over "
                             "reverse")
            (filename, lineno), col = origin, None
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.hint = hint
        super().__init__(self._format())

    @property
    def location(self):
        if self.filename is None:
            return None
        loc = f"{self.filename}:{self.lineno}" if self.lineno else self.filename
        if self.lineno and self.col is not None:
            loc += f":{self.col + 1}"
        return loc

    def _format(self):
        loc = self.location
        text = f"{loc}: {self.message}" if loc else self.message
        if self.filename and self.lineno:
            line = linecache.getline(self.filename, self.lineno)
            if line.strip():
                stripped = line.rstrip("\n")
                indent = len(stripped) - len(stripped.lstrip())
                text += "\n    " + stripped.strip()
                if self.col is not None and self.col >= indent:
                    text += "\n    " + " " * (self.col - indent) + "^"
        if self.hint:
            text += "\n  hint: " + self.hint
        return text


class UnsupportedSyntaxError(S2SADError):
    """The function uses a construct s2sad cannot differentiate."""


class RuleError(S2SADError):
    """A derivative rule registered with ``s2sad.extend`` is not well formed (it writes
    the derivative of a name that is not one of its parameters, or reads a name its
    module does not define, or ``multilinear`` names no parameter), or gives an adjoint
    that is not shaped like its argument (raised as the gradient runs)."""


class MissingRuleError(S2SADError):
    """An active value flows through a function that has no derivative rule."""


class SourceUnavailableError(S2SADError):
    """The source of the function cannot be read (REPL, builtin, C extension)."""


class NonScalarOutputError(S2SADError):
    """``grad`` was asked for the gradient of a function whose output is not a scalar."""


class ArgumentError(S2SADError):
    """Bad ``wrt`` or call arguments."""


class StaleReceiverError(ArgumentError):
    """Derivative code made for objects of one class met an object of another (an
    attribute ``self.inner`` or an item of ``self.layers`` replaced since): raised by the
    check the code runs (``runtime.check_method``); a gradient object then makes code
    for the new classes and calls it."""


class FixedPointError(S2SADError):
    """``fixed_point=True`` was asked for a loop it does not fit, or the adjoint of
    a fixed-point loop did not settle."""


class RuleLimitError(MissingRuleError, NotImplementedError):
    """A derivative rule met values it has no derivative for (``np.pad`` with
    ``mode='mean'``, the singular vectors of ``np.linalg.svd``): raised when the
    derivative code runs, located at the line of the user's function whose derivative
    code called the rule (``note_generated``). Also a ``NotImplementedError``."""

    def __init__(self, message, *, hint=None, **where):
        super().__init__(message, hint=hint or (
            "use a variant the message names, or compute this value outside the function "
            "you differentiate (or pass it through s2sad.stop_gradient if its derivative "
            "is not needed)"), **where)


class TruncatingStoreError(S2SADError):
    """A value carrying a derivative is stored into an integer or bool array, which
    truncates it (raised when the gradient runs)."""


# ---------------------------------------------------------------------------
# The catalogue: construct -> (readable name, what to do instead)

UNSUPPORTED = {
    "Try": ("try/except or try/finally",
            "move the try statement out of the function being differentiated"),
    "TryStar": ("try/except*", "move the try/except out of the function being differentiated"),
    "With": ("with statement", "only 'with np.errstate(...)' (not 'raise' or 'call') and "
             "'with contextlib.nullcontext()' are differentiated: move the with statement "
             "out of the function"),
    "AsyncWith": ("async with", "differentiate a synchronous function"),
    "AsyncFor": ("async for", "differentiate a synchronous function"),
    "AsyncFunctionDef": ("async def", "differentiate a synchronous function"),
    "Await": ("await", "differentiate a synchronous function"),
    "Yield": ("yield", "return a value instead of yielding it"),
    "YieldFrom": ("yield from", "return a value instead of yielding it"),
    "ClassDef": ("class definition", "define the class at module level"),
    "Global": ("global statement", "pass the value as an argument and return the new value"),
    "Nonlocal": ("nonlocal statement", "pass the value as an argument and return the new value"),
    "Delete": ("del statement", "leave the del out (the gradient frees its own memory), or "
               "rebind the name instead of deleting it"),
    "DeleteItem": ("del statement of an item or attribute (it changes the list, dict or "
                   "object)",
                   "build the value without it instead (leaving the del out would change "
                   "what the function computes): L = L[:i] + L[i + 1:] of a list (L.pop() "
                   "of its last item is differentiated), d = {k: v for k, v in d.items() "
                   "if k != key} of a dict"),
    "NamedExpr": ("assignment expression (walrus ':=')",
                  "assign in a separate statement before this one"),
    "Starred": ("starred argument or display item (f(*args), [*xs])",
                "pass the arguments explicitly, or build the list with + or a loop"),
    "Lambda": ("lambda used as a value (passed to a function, stored, returned; a lambda "
               "assigned to a name, a key= of min/max/sorted and map(lambda ...) are "
               "differentiated)",
               "define a named function with def, or write the loop it stands for"),
    "FunctionDef": ("nested function definition", "define the helper at module level"),
    "NestedRebound": ("a name of a function defined inside the function (def or "
                      "lambda) bound more than once",
                      "give each function its own name (def square(t), def cube(t)) and "
                      "call the one you mean in each branch, or define one function "
                      "whose body holds the if"),
    "NestedOutside": ("a call of a function defined in a branch of an if that does not "
                      "hold the call",
                      "define the function before the if, where every call sees it, or "
                      "call it inside the branch that defines it"),
    "ObjectOperator": ("an arithmetic operator on an object of a class of yours that "
                       "defines it (__mul__, __add__, ...)",
                       "call a method explicitly on an object passed as an argument or "
                       "held in self's attributes (o.__mul__(x), o.scale(x)), or compute "
                       "with the object's attributes (o.w * x * x)"),
    "PropertyChange": ("changing in place a list, dict or array that a property of an "
                       "object gave (self.l.append(x), self.l[0] = x)",
                       "change the attribute the property reads through its own name "
                       "(self.lst.append(x)), or make the property only return it "
                       "(return self.lst)"),
    "GlobalStore": ("storing a value that carries a derivative into a global array, list "
                    "or dict, or one of an enclosing function (a cache), read where the "
                    "store may not have run",
                    "keep the value in a local variable and return it, or store before "
                    "every read, outside if and loop statements; for a cache of results, "
                    "differentiate the function it caches (or use functools.lru_cache, "
                    "which s2sad looks through)"),
    "ListComp": ("list comprehension", "write the loop out with a for statement"),
    "Set": ("set display ({a, b})", "use a list or a tuple"),
    "SetComp": ("set comprehension", "write the loop out with a for statement"),
    "DictComp": ("dict comprehension", "write the loop out with a for statement"),
    "GeneratorExp": ("generator expression", "write the loop out with a for statement"),
    "Break": ("break", "restructure the loop with a while condition"),
    "Continue": ("continue", "restructure the loop body with if/else"),
    "Import": ("import inside the function", "import at module level"),
    "ImportFrom": ("import inside the function", "import at module level"),
    "Match": ("match statement", "use if/elif/else"),
    "Return": ("return before the end of the function",
               "assign the result to a variable and return it once, at the end"),
    "LoopElse": ("else clause on a loop", "use a flag variable and an if after the loop"),
    "LoopResizes": ("a loop that changes the length of the list it iterates over",
                    "iterate over a copy (for v in list(xs)) or use a while loop over "
                    "an index"),
    "LoopWritesList": ("writing into an item of the list, array or dict a loop iterates over",
                       "loop over the indices or keys instead: for i in range(len(xs)): "
                       "v = xs[i] (for k in d: v = d[k])"),
    "StaleDictView": ("reading a view of a dict (d.values(), d.items()) after "
                      "a store into the dict",
                      "read the view where it is used (for v in d.values()), or take a "
                      "list of it before the store: vals = list(d.values())"),
    "AttributeStore": ("assignment to an attribute",
                       "compute the value in a local variable; to change a field of a "
                       "dataclass or a named tuple, build a new one from its fields "
                       "(p = Params(p.w * x, p.b), p = dataclasses.replace(p, w=p.w * x), "
                       "p = p._replace(w=...) of a named tuple), whose fields carry "
                       "derivatives"),
    "SubscriptStore": ("assignment to an element of an array that carries a derivative",
                       "build the result with np.where, np.concatenate or arithmetic"),
    "ListSliceStore": ("assignment to a slice of a list that carries a derivative",
                       "build a new list instead: out = out[:1] + [a, b]"),
    "KwargsCall": ("**kwargs in a call", "pass the keyword arguments explicitly"),
    "BoundGenerator": ("a generator or iterator bound to a name or given to a function of "
                       "yours (Python reads it once, where it is used)",
                       "make a list where it is made, g = [v * v for v in xs] (list(map(...)), "
                       "list(itertools.combinations(...))), and read the list"),
    "BoundIterator": ("an iterator bound to a name (r = reversed(xs))",
                      "read reversed(xs) where it is made (for v in reversed(xs), "
                      "enumerate(reversed(xs)), sum(reversed(xs))), or bind a list: "
                      "r = list(reversed(xs))"),
    "VarArgs": ("*args or **kwargs parameter", "list the parameters explicitly"),
    "KwArgs": ("**kwargs parameter",
               "list the keyword parameters explicitly (def f(x, *, scale=1.0)); *args "
               "parameters are differentiated"),
    "TupleTarget": ("unpacking of a value that carries a derivative",
                    "index the elements explicitly"),
    "ActiveIteration": ("iteration over a value that carries a derivative",
                        "loop over range(len(x)) and index x[i]"),
    "BoolOpValue": ("'and'/'or' on values that carry a derivative",
                    "use an if statement or max/min"),
    "OutArgument": ("a NumPy call writing its result into an array given as out "
                    "(by keyword or by position)",
                    "use the value the call returns: b = np.tanh(b) in place of "
                    "np.tanh(b, out=b) or np.tanh(b, b)"),
    "InPlaceNanToNum": ("np.nan_to_num with copy=False, which replaces the values of its "
                        "argument in place",
                        "use the value it returns: a = np.nan_to_num(a, nan=v) in place of "
                        "np.nan_to_num(a, copy=False, nan=v)"),
    "SideEffectCall": ("call for its side effects on a value that carries a derivative",
                       "use the value returned by a function instead of mutating its argument"),
    "ListMethod": ("a list method changing a list that carries a derivative, of a list "
                   "the function did not build",
                   "lst.extend, lst.insert and lst.reverse are differentiated on a list the "
                   "function builds (assigned only a list display, a comprehension, "
                   "list(...) or sorted(...)): copy the argument or global first, "
                   "out = list(lst), and change out"),
    "AppendUnderHolder": ("reverse mode through an append to (or an extend of, a pop "
                          "from) a list that another list holds, read afterwards",
                          "build the holding list once the list is complete (rows = [out, "
                          "b] after the appends and pops), or use forward mode: "
                          "grad(..., mode='forward'), the default for one scalar argument"),
    "ChangeUnderReturned": ("reverse mode through an append to (or a pop from) a list "
                            "that a call of your function returned as well as changed, "
                            "while the other name for it is read later",
                            "go on with one name for the list (L = fill(L, x)), or return "
                            "nothing from the function and keep using L, or use forward "
                            "mode: grad(..., mode='forward'), the default for one scalar "
                            "argument"),
    "PopFromItem": ("reverse mode through a pop from a list that is an item of another "
                    "list (rows[i].pop())",
                    "pop from the list through a name of its own before another list "
                    "holds it, or take a copy of the item first (row = list(rows[i])), or "
                    "use forward mode: grad(..., mode='forward'), the default for one "
                    "scalar argument"),
    "ArraySort": ("a.sort() of an array that carries a derivative (sorted in place)",
                  "write a = np.sort(a) (axis= and kind= as for sort)"),
    "ListSort": ("lst.sort() of a list that carries a derivative",
                 "write lst = sorted(lst) (key= and reverse= as for sort), or sorted(lst) "
                 "into a new name where another name holds the list"),
    "FillsGlobalList": ("call of a function that changes a global list it is given, with "
                        "arguments carrying derivatives",
                        "pass the list to the function as an argument of your function, or "
                        "return the values from the function instead of appending them"),
    "FillsActiveList": ("reverse mode through a call that appends to or pops from a list "
                        "argument carrying derivatives given for two of its parameters, or "
                        "changes such an argument otherwise (stores into it)",
                        "give the list once, or return the values from the function instead "
                        "of changing its argument, or use forward mode: "
                        "grad(..., mode='forward'), the default for one scalar argument; "
                        "for the gradient of a gradient, s2sad.hessian"),
    "AppendUnderReturned": ("appending to (or popping from) a list that a call of your "
                            "function returned (its argument, or an item of it) while the "
                            "other name for it is read later",
                            "go on with one name for the list (p = ident(p)), or append "
                            "to the list under the name it was made with"),
    "AppendToItem": ("appending to a list that is an item of another list or dict "
                     "(rows[i].append(v), d.setdefault(k, []).append(v))",
                     "build the inner list under a name of its own, then store it: "
                     "r = []; r.append(v); rows.append(r) (or d[k] = r)"),
    "StoreIntoItem": ("writing into a list or dict that is an item of another list or "
                      "dict (rows[i][j] = v, d[k][j] = v)",
                      "build the inner list under a name of its own, write into it, then "
                      "store it: r = list(rows[i]); r[j] = v; rows[i] = r"),
    "DictIterated": ("iterating or unpacking a dict the function does not show to be one "
                     "(for k in d, k1, k2 = d, list(d), sum(d), sorted(d) of a dict that a "
                     "call, an item or an attribute gave): its keys would be taken for its "
                     "values",
                     "iterate d.keys(), d.values() or d.items(), as you mean"),
    "DictMerge": ("merging dicts (p | q, p |= q, {**p, ...})",
                  "copy the dict and store the new keys: q = dict(p); q['c'] = x"),
    "ListAlias": ("a second name for a list or dict that is changed in place",
                  "keep one name for it, or take a copy: b = list(a) (a dict: dict(a), "
                  "an array: a.copy())"),
    "WriteUnderAlias": ("writing into a list or dict while another name for it (what a "
                        "call of your function returned, or a list holding it) is still "
                        "used",
                        "keep one name for the list, or store into a copy (b = list(a))"),
    "Alias": ("a second name for an array that is written in place",
              "write b = a.copy() to get an independent array"),
    "CalleeGlobalWrite": ("a called function writing into a global array, list or dict",
                          "return the value from the function and store it in the caller"),
    "CalleeGlobalRead": ("a called function reading a global array, list or dict the "
                         "function stored a value carrying a derivative into",
                         "pass the array to the function as an argument"),
    "CalleeWrite": ("a called function writing into its argument",
                    "return the new array from the helper instead of writing into its argument"),
    "NestedValue": ("a function defined inside the function used as a value",
                    "call it directly, or define it at module level"),
    "ViewWrite": ("writing into a view of another array (a slice, .T, reshape, ...)",
                  "take a copy first, e.g. w = z[1:].copy()"),
    "InplaceAlias": ("in-place update of an array whose memory another name shares "
                     "(a view, a copy, a list holding it)",
                     "write b = b * 2.0 (b = b + v, ...) to make a new array, or take a copy "
                     "first: b = a[1:].copy()"),
    "InplaceArgument": ("in-place update of an argument of a function called from "
                        "differentiated code (it changes the caller's array)",
                        "write a = a * 2.0 (a = a + v, ...) to make a new array and return it"),
    "WriteUnderView": ("writing into an array while a view of it is still used",
                       "take a copy of the view before the write (b = a[::2].copy()); swap "
                       "rows with B[[0, 1]] = B[[1, 0]]; an element of a matrix read as "
                       "t = float(A[i, j]) is a number, not a view"),
    "ListInContainer": ("appending to (or popping from) a list held in a tuple, a dict "
                        "or an attribute, read again through it",
                        "build the list under a name of its own (r = [...]), give the "
                        "function that name, and put r into the container afterwards"),
    "HeldFill": ("changing a list, dict or array held in an attribute of an object (in a "
                 "method or "
                 "another function called) with a value carrying a derivative, where the "
                 "attribute is read again",
                 "the derivative does not follow values through an object's attributes: "
                 "keep the list in a local variable (xs = list(o.xs), or xs = []), pass "
                 "it to the method that appends to it (o.add(xs, v)) or have the method "
                 "return the new list, and read xs; store it back into the object "
                 "afterwards if needed"),
    "MutatingCall": ("a method changing a list, dict or array in place, called where "
                     "its value is used or passed on as a function",
                     "in place of a comprehension, map(...) or a lambda calling it, "
                     "write a for loop; in place of and/or or a conditional expression "
                     "around it, an if statement"),
    "Recursion": ("recursive call", "rewrite the recursion as a loop"),
    "DictStore": ("storing a value that carries a derivative into a dict built with a "
                  "key known only when the code runs",
                  "write the keys as constants ({'a': x}), or keep such values in "
                  "variables, a list or an array"),
    "NoReturn": ("function without a return statement", "return a scalar value"),
}


def _where(node, ctx):
    lineno = getattr(node, "lineno", None) if node is not None else None
    col = getattr(node, "col_offset", None) if node is not None else None
    if col is not None and ctx is not None:
        col += ctx.col_shift
    filename = ctx.filename if ctx is not None else None
    if lineno is None and ctx is not None:
        lineno = ctx.firstlineno
    return dict(filename=filename, lineno=lineno, col=col,
                mode=getattr(ctx, "mode", None) if ctx is not None else None)


def located_at_def(func, message, hint):
    """An UnsupportedSyntaxError located at the ``def`` line of ``func``."""
    from .parse import def_line
    code = getattr(func, "__code__", None)
    return UnsupportedSyntaxError(message, hint=hint,
                                  filename=code.co_filename if code else None,
                                  lineno=def_line(func) if code else None)


def in_helper(exc, func, node, ctx):
    """``exc``, found transforming s2sad's own runtime helper ``func`` (which generated
    code calls: a gradient differentiated again), located at the call instead of in
    s2sad's file; other errors unchanged."""
    import os
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    if not (exc.filename and os.path.abspath(exc.filename).startswith(here)):
        return exc
    name = getattr(func, "__name__", "a helper")
    new = type(exc)(f"{exc.message} (in s2sad's {name}, which the derivative code calls)",
                    hint=exc.hint, **_where(node, ctx))
    new.__cause__ = None
    return new


def unsupported(node, ctx, construct, detail=None):
    name, hint = UNSUPPORTED.get(construct, (construct, "rewrite it with supported constructs"))
    msg = f"unsupported construct: {name}"
    if detail:
        msg += f" ({detail})"
    return UnsupportedSyntaxError(msg, hint=hint, **_where(node, ctx))


def dict_iterated():
    """Raised by the generated code (``runtime.as_sequence``) when what it iterates is
    a dict; located at the user's line by ``note_generated``."""
    name, hint = UNSUPPORTED["DictIterated"]
    return UnsupportedSyntaxError(f"unsupported construct: {name}", hint=hint)


def mutating_call(node, ctx, what, fix):
    """A method changing its list, dict or array in place (``L.append``), called where
    its value is used (``y = L.append(v)``, in a comprehension, a lambda, an and/or) or
    referenced without a call (``map(L.append, xs)``): ``what`` names it and where it
    is, ``fix`` says what to write instead."""
    name, hint = UNSUPPORTED["MutatingCall"]
    return UnsupportedSyntaxError(f"unsupported construct: {name} ({what})",
                                  hint=f"{fix}; {hint}", **_where(node, ctx))


def missing_rule(node, ctx, what, mode="reverse"):
    import re
    func = what.split(" ")[0]
    if func.startswith(("method", ".")):
        func = "the function the method calls"
    register = "s2sad.tangent" if mode == "forward" else "s2sad.adjoint"
    hint = (f"register one with @{register}({func}) (a template, see docs/usage.md), "
            "mark it with s2sad.extend.nondiff if it has no derivative, "
            "or compute the value outside the function")
    if what.startswith("method ") and not re.fullmatch(r"method \.\w+\(\)( \(.*\))?", what):
        # a method of an object (not an array method): of super(), of an attribute
        hint = ("call the method through its class with the object first, "
                "C.m(obj, x) (methods of objects held in parameters, in their attributes "
                "and in globals, self.m(x), self.inner.m(x), net(x), and of a loop "
                "variable over a list of objects, for l in self.layers: l(x), are "
                "differentiated; super().m(x) and methods of objects held in other local "
                "names, bound by an assignment or in a comprehension, are not), "
                "or " + hint)
    if what.startswith("method super()."):
        hint = ("call the method through the base class with the object first, "
                "Base.f(self, x), which is differentiated")
    if what.startswith("method ") and what.endswith("of an item other than the last"):
        hint = ("only lst.pop() of the last item is differentiated: read the item and "
                "slice the list, v = lst[i]; lst = lst[:i] + lst[i + 1:] (a dict: v = d[k]; "
                "d = {j: w for j, w in d.items() if j != k})")
    if what.startswith("attribute ."):
        # p.a of an object that is no record, or no field of a record (a property)
        hint = ("only the fields of named tuples and dataclass instances carry "
                "derivatives (p.w); a property, a method or an attribute of another "
                "object does not: compute the value from the fields in the function, or "
                "make the object a dataclass")
    if "a record built in the function" in what:
        hint = ("a named tuple or dataclass is differentiated when its class makes the "
                "instance from the values given: no __new__, __init__ or __post_init__ "
                "of your own; pass the fields by position or by name, or build a plain "
                "tuple (a, b) instead")
    if what.startswith("call of a computed function") or " of a computed value" in what \
            or what.endswith(("a callable held in a local name",
                              "a callable passed as an argument")):
        # no name to register a rule for: fs[0](x), make()(x)
        hint = ("call the function by its name (a function of your module, or one with a "
                "rule such as np.sin), or an object through a name s2sad follows "
                "(self.net(x), a loop variable over a list of objects: for layer in "
                "self.layers: layer(x)), not through another "
                "local name, a list, a dict or another call")
    return MissingRuleError(f"no derivative rule for {what}", hint=hint, **_where(node, ctx))


def rule_drops_argument(node, ctx, rule, param, tangent=False):
    """A call of a function with a rule of the user's (``rule``, its adjoint or, with
    ``tangent``, its tangent template) where the argument bound to ``param`` carries
    a derivative the rule does not give: refused rather than a silent zero."""
    template = getattr(rule.template, "__name__", "?")
    if tangent:
        what = (f"the tangent rule {template} of {rule.name} reads no d[{param}], and the "
                f"argument given for its parameter {param} carries a derivative")
        fix = f"add the term in d[{param}] to d[{rule.result}] in {template}"
    else:
        what = (f"the derivative rule {template} of {rule.name} gives no d[{param}], and "
                f"the argument given for its parameter {param} carries a derivative")
        fix = f"add d[{param}] = ... (the derivative in {param}) to {template}"
    return RuleLimitError(
        f"{what}: its derivative in {param} would be lost (a silent zero)",
        hint=f"{fix} ({rule.where}), or pass {param} a value that carries no derivative "
             "(a constant, or s2sad.stop_gradient(...)) if its derivative is not needed",
        **_where(node, ctx))


def custom_vjp_second_order(node, ctx, name):
    """A second derivative (a hessian, grad of grad) through a ``custom_vjp``, whose fwd
    and bwd give only a first-order, reverse-mode derivative."""
    exc = MissingRuleError(f"no derivative rule for {name} (a custom_vjp has no second "
                           "derivative)", **_where(node, ctx))
    # (not the hint S2SADError gives errors found in generated code)
    exc.hint = (f"a custom_vjp gives only a first-order, reverse-mode rule (its fwd and "
                f"bwd), which s2sad does not differentiate again: for a second derivative, "
                f"register the derivative as templates instead (@s2sad.adjoint({name}), "
                f"@s2sad.tangent({name})), which s2sad differentiates again, or leave "
                f"custom_vjp out so that s2sad differentiates the code of {name}")
    exc.args = (exc._format(),)
    return exc


def rule_misnamed(node, ctx, rule, signature, exc):
    """A call of a function with a rule of the user's whose parameters are not named as
    the function's (``signature``), which this call does not fit (``exc``)."""
    import inspect
    template = getattr(rule.template, "__name__", "?")
    mine = str(inspect.Signature(list(inspect.signature(rule.template).parameters.values())[1:]))
    return RuleError(
        f"the derivative rule {template} of {rule.name} does not fit this call ({exc}): "
        f"its parameters {mine} are not named as those of {rule.name}{signature}",
        hint=f"name the parameters of {template} after the result as {rule.name} names "
             f"them, def {template}({rule.result}, {signature[1:-1]}) ({rule.where}): the "
             "rule binds the call's arguments by these names",
        **_where(node, ctx))


def not_multilinear_in(node, ctx, prim, linear_in, param):
    """Forward mode through a call of a function the user declared ``multilinear``,
    where an argument it is not declared linear in (``param``: its name, or position)
    carries a derivative: refused rather than dropped."""
    shown = getattr(prim, "__name__", repr(prim))
    which = ", ".join(repr(a) for a in linear_in) or "nothing"
    what = f"parameter {param}" if isinstance(param, str) else f"argument {param}"
    return RuleLimitError(
        f"s2sad.extend.multilinear declares {shown} linear in {which} only, and the "
        f"{what} carries a derivative: its derivative there would be lost (a silent zero)",
        hint=f"declare {shown} linear in {param!r} too if it is (args=...), register a "
             f"tangent rule with @s2sad.tangent({shown}), or pass that argument a value "
             "that carries no derivative (a constant, or s2sad.stop_gradient(...))",
        **_where(node, ctx))


def _shape_text(shape):
    return "a number" if shape == () else f"an array of shape {shape}"


def adjoint_shape_misfit(rule, param, shape, got):
    """The ``RuleError`` for an adjoint template of the user's (``rule``: its name)
    whose ``d[param]`` is not shaped like the argument (``shape``; ``got``: what it
    is), raised as the gradient runs and located at the call (``note_generated``)."""
    return RuleError(
        f"the derivative rule {rule} gives for d[{param}] {got}, where the argument "
        f"{param} is {_shape_text(shape)}: an adjoint has the shape of its argument",
        hint=f"sum the contribution back to the argument's shape, d[{param}] = "
             f"unbroadcast(..., {param}) (from s2sad.extend), where the function broadcasts "
             f"{param}; give a number for a number")


def bwd_shape_misfit(bwd, name, index, param, shape, got):
    """The ``ArgumentError`` for the bwd of a ``custom_vjp`` (``name``) whose adjoint
    of argument ``index`` (``param``) is not shaped like it, located at the bwd."""
    return bad_argument(
        bwd, f"the bwd rule of {name} returned for its argument {index} ({param}) {got}, "
        f"where the argument is {_shape_text(shape)}: an adjoint has the shape of its "
        "argument",
        hint="return one adjoint per argument, shaped like it: sum over the axes the "
             f"function broadcast {param} along (s2sad.extend.unbroadcast(g_{param}, "
             f"{param})), and do not reduce an array's adjoint to a number")


def _def_of(func):
    """The location of ``func``'s def (its code's first line), where it has code."""
    code = getattr(func, "__code__", None)
    return {"filename": code.co_filename if code else None,
            "lineno": code.co_firstlineno if code else None}


def source_unavailable(func, why, hint=None):
    name = getattr(func, "__qualname__", repr(func))
    return SourceUnavailableError(
        f"cannot read the source of {name}: {why}",
        hint=hint or "define the function in a .py file (not in the REPL or with exec) "
                     "and pass the Python function itself",
        **_def_of(func),
    )


def partial_refused(func):
    """``grad(functools.partial(f, ...))``: located at ``f``'s def when it has one."""
    inner = func.func
    name = getattr(inner, "__name__", repr(inner))
    return SourceUnavailableError(
        f"cannot differentiate functools.partial of {name} directly",
        **_def_of(inner),
        hint=f"differentiate {name} itself and pass the bound arguments "
             f"(s2sad.grad({name}, wrt=...)), or call the partial from a function you "
             "differentiate (a call of a module-level partial is supported)",
    )


_NON_SCALAR_HINT = ("reduce the output (np.sum, np.mean, indexing) or use s2sad.vjp "
                    "with an output adjoint")


def output_not_scalar(y):
    """The NonScalarOutputError the generated code raises (``runtime.seed``) for an
    output ``y`` that is no scalar, located later (``non_scalar_output``). A tuple or
    list (a named tuple too) may be a ``(loss, aux)`` pair whose ``has_aux=True`` was
    forgotten: its hint says so."""
    import numpy as np
    if isinstance(y, np.ndarray):
        return NonScalarOutputError(f"an array of shape {y.shape}")
    what = f"a value of type {type(y).__name__}"
    hint = None
    if isinstance(y, (tuple, list)):
        if type(y) not in (tuple, list):
            what += " (a named tuple)" if isinstance(y, tuple) else " (a list)"
        hint = ("to differentiate the first item and return the others alongside, pass "
                "has_aux=True (s2sad.grad(f, has_aux=True) returns (gradient, aux)); "
                "otherwise " + _NON_SCALAR_HINT)
    return NonScalarOutputError(what, hint=hint)


def dict_not_of_a_dict(what):
    """The RuleLimitError for ``dict(x)`` where ``x`` carries a derivative and is no dict
    (pairs, ``zip(keys, values)``), raised as the derivative code runs and located at
    the user's line (``note_generated``): only a copy of a dict is differentiated."""
    return RuleLimitError(
        f"dict(x) of {what} (key-value pairs) that carry a derivative: its derivative is "
        "not known (only dict(d) of a dict d, a copy, is differentiated)",
        hint="build the dict with a display ({'a': x, 'b': y}) or by stores into an empty "
             "one (d = {}; for k, v in zip(keys, values): d[k] = v)")


def non_scalar_output(ctx, node, what, hint=None):
    return NonScalarOutputError(
        f"grad needs {ctx.name} to return a scalar, but it returned {what}",
        hint=hint or _NON_SCALAR_HINT,
        **_where(node, ctx),
    )


def fixed_point_refused(node, ctx, why):
    return FixedPointError(
        f"fixed_point=True cannot treat this while loop as a fixed-point iteration: {why}",
        hint="write the loop as 'while <not converged>:' whose body maps the loop's state "
             "to its next value, or drop fixed_point=True to differentiate every iteration",
        **_where(node, ctx),
    )


def fixed_point_unsettled(filename, lineno, iterations):
    return FixedPointError(
        f"the adjoint of the fixed-point loop did not settle in {iterations} iterations: "
        "the loop's last state is not an attracting fixed point of its body (it did not "
        "converge, or it carries a sum or a counter along)",
        filename=filename, lineno=lineno,
        hint="drop fixed_point=True to differentiate every iteration exactly",
    )


def truncating_store(filename, lineno, col, dtype):
    return TruncatingStoreError(
        f"storing a value that carries a derivative into an array of dtype {dtype} "
        "truncates it, so no derivative passes through the store",
        filename=filename, lineno=lineno, col=col,
        hint="make the array float, e.g. np.zeros(n) or np.zeros_like(k, dtype=float) "
             "instead of np.zeros_like(k), or a.astype(float) instead of a.copy()",
    )


def bad_argument(func, message, hint=None):
    code = getattr(func, "__code__", None)
    return ArgumentError(
        message,
        filename=code.co_filename if code else None,
        lineno=code.co_firstlineno if code else None,
        hint=hint,
    )

"""Kernel-side memo: a notebook's second pass recomputes only what the joint disclosure audit can change.

When the joint audit (:func:`equity_audit.publish.release.audit_release`) withholds
more cells, the pipeline runs the notebooks that show them again, in the kernel that
ran them the first time. What changes between the passes is the set of cells the
audit withheld, which every table, chart and text reads through
:func:`~equity_audit.publish.release.protect` and
:func:`~equity_audit.publish.release.audited_codes`. The analyses themselves
(disaggregations, scans, model fits) give the same results; recomputing them is most
of a notebook's time.

:func:`install` (run silently in the kernel before the notebook) rewrites every
top-level assignment of the notebook's cells, ``name = expression``, so that the
expression's value is kept and given back in a later pass when

- the names the expression reads are bound to the very same objects as before
  (numbers and text: equal values), and
- computing it the first time called neither ``protect`` nor ``audited_codes``
  (so it does not depend on what the audit withheld), and made no chart.

Everything else runs again: every statement that shows or writes something, and
every assignment that read the withheld cells. Loading the withheld cells
(:func:`~equity_audit.publish.release.remember_audited`, called by ``open_district``)
is replayed when the assignment that did it is given back.

Examples
--------
>>> import ast
>>> print(ast.unparse(_Memoize().visit(ast.parse("table = f(data, 2)"))))
table = __equity_audit_memo__.get('table = f(data, 2)', lambda: f(data, 2), globals(), ('data', 'f'))
"""
from __future__ import annotations

import ast
import functools
import sys

__all__ = ["install", "next_pass", "new_notebook", "Memo"]

#: The name the rewritten cells call the memo by, in the kernel's namespace.
MEMO_NAME = "__equity_audit_memo__"
_MISSING = object()
_SCALARS = (str, int, float, bool, bytes, type(None))


def _same(old, new) -> bool:
    """Whether a name still means what it meant: the same object, or an equal number or text."""
    if old is new:
        return True
    if isinstance(old, tuple) and isinstance(new, tuple):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new))
    return type(old) is type(new) and isinstance(old, _SCALARS) and old == new


class Memo:
    """The values of a kernel's top-level assignments that a later pass may reuse."""

    def __init__(self):
        self._kept: dict[str, tuple[dict, object, list]] = {}
        self.reads = 0  # calls of protect / audited_codes so far
        self._effects: list | None = None  # remember_audited calls of the assignment being computed

    def get(self, key: str, compute, namespace: dict, names: tuple[str, ...]):
        """The value of the assignment ``key``: kept from an earlier pass, or computed now."""
        bound = {name: namespace.get(name, _MISSING) for name in names}
        kept = self._kept.get(key)
        if kept is not None and all(_same(kept[0][name], value) for name, value in bound.items()):
            for replay in kept[2]:  # what the assignment did besides its value: load the withheld cells
                replay()
            return kept[1]
        reads, self._effects = self.reads, []
        try:
            value = compute()
        finally:
            effects, self._effects = self._effects, None
        if self.reads == reads and not _is_chart(value):
            self._kept[key] = (bound, value, effects)
        else:
            self._kept.pop(key, None)
        return value

    def forget(self) -> None:
        """Keep nothing from before: another notebook runs in this kernel next."""
        self._kept.clear()

    def reading(self, function):
        """``function`` counting its calls: what it returns depends on the audit's withheld cells."""
        @functools.wraps(function)
        def counted(*args, **kwargs):
            self.reads += 1
            return function(*args, **kwargs)
        return counted

    def replayed(self, function):
        """``function`` recorded, so that an assignment given back repeats the call."""
        @functools.wraps(function)
        def recorded(*args, **kwargs):
            if self._effects is not None:
                self._effects.append(functools.partial(function, *args, **kwargs))
            return function(*args, **kwargs)
        return recorded


def _is_chart(value) -> bool:
    """A figure is drawn (and closed) by the cell that shows it: never given back."""
    values = value if isinstance(value, tuple) else (value,)
    return any(type(v).__module__.startswith("matplotlib") for v in values)


class _Memoize(ast.NodeTransformer):
    """Rewrites each top-level ``a = expr`` (or ``a, b = expr``) of a cell to go through the memo."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = [self._memoized(statement) for statement in node.body]
        return node

    def _memoized(self, statement: ast.stmt) -> ast.stmt:
        if not (isinstance(statement, ast.Assign) and all(map(_plain_target, statement.targets))):
            return statement
        if any(isinstance(n, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(statement.value)):
            return statement
        names = sorted({n.id for n in ast.walk(statement.value) if isinstance(n, ast.Name)})
        call = ast.Call(
            func=ast.Attribute(value=ast.Name(id=MEMO_NAME, ctx=ast.Load()), attr="get", ctx=ast.Load()),
            args=[ast.Constant(ast.unparse(statement)),
                  ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
                             body=statement.value),
                  ast.Call(func=ast.Name(id="globals", ctx=ast.Load()), args=[], keywords=[]),
                  ast.Tuple(elts=[ast.Constant(name) for name in names], ctx=ast.Load())],
            keywords=[])
        return ast.copy_location(ast.Assign(targets=statement.targets, value=call), statement)


def _plain_target(target: ast.expr) -> bool:
    return isinstance(target, ast.Name) or (isinstance(target, ast.Tuple)
                                            and all(isinstance(e, ast.Name) for e in target.elts))


def install(shell=None) -> Memo:
    """Memoise the top-level assignments of every cell this kernel runs from now on.

    Run it in the kernel once the notebook's imports are loaded: every binding of
    ``protect``, ``audited_codes`` and ``audit_wide.apply`` in the package's loaded
    modules is counted, and every binding of ``remember_audited`` and
    ``audit_wide.remember`` recorded.
    """
    from equity_audit.publish import audit_wide, plots, release

    shell = shell or get_ipython()  # noqa: F821 - run inside an IPython kernel
    memo = Memo()
    wrapped = {id(release.protect): memo.reading(release.protect),
               id(release.audited_codes): memo.reading(release.audited_codes),
               id(release.remember_audited): memo.replayed(release.remember_audited),
               # the audit-wide false discovery control, known after the first pass, clears flags like the
               # joint audit withholds cells
               id(audit_wide.apply): memo.reading(audit_wide.apply),
               id(audit_wide.remember): memo.replayed(audit_wide.remember)}
    for name, module in list(sys.modules.items()):  # a few hundred modules, once per kernel
        if name == "equity_audit" or name.startswith("equity_audit."):
            for attribute, value in list(vars(module).items()):
                if id(value) in wrapped and callable(value):
                    setattr(module, attribute, wrapped[id(value)])
    shell.user_ns[MEMO_NAME] = memo
    shell.ast_transformers.append(_Memoize())
    plots.reuse_drawn()  # a chart drawn from the same data as in the first pass is not drawn again
    return memo


def next_pass(shell=None) -> None:
    """Number the cells of the notebook's next pass from 1 again, as a fresh kernel would."""
    shell = shell or get_ipython()  # noqa: F821 - run inside an IPython kernel
    shell.execution_count = 1


def new_notebook(shell=None) -> None:
    """Ready this kernel for another notebook, as a fresh kernel with its imports loaded would be.

    The notebook's names are cleared, the memo keeps nothing and cells are numbered
    from 1; the modules stay loaded (with the memo's counting wrappers of
    :func:`install`), so the next notebook's imports cost nothing.
    """
    shell = shell or get_ipython()  # noqa: F821 - run inside an IPython kernel
    memo = shell.user_ns[MEMO_NAME]
    shell.reset(new_session=False)
    memo.forget()
    shell.user_ns[MEMO_NAME] = memo
    shell.execution_count = 1

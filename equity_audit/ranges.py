"""How low and how high a withheld count can be: one linear program, solved for one count after another.

The joint disclosure audit bounds every withheld count of a population by
minimising and maximising it over all releases consistent with what was
published: thousands of programs per run that differ only in their objective.
:func:`scipy.optimize.linprog` poses each anew (its checks cost four times the
solve at this size); HiGHS itself keeps the program and its last basis, so
each bound after the first starts from a feasible point.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

#: :func:`scipy.optimize.linprog`'s status codes, which the audit's callers read.
OPTIMAL, INFEASIBLE, UNBOUNDED, OTHER = 0, 2, 3, 4


def _highs():
    """A HiGHS instance that prints nothing.

    The public ``highspy.Highs`` logs its banner from its constructor, before
    any option can be set (HiGHS issues 1702 and 2749); its base class does not.
    """
    import highspy

    h = highspy._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # tiny programs; without it HiGHS tells infeasible from unbounded
    return h


class Program:
    """``A_eq x = b_eq``, ``A_ub x <= b_ub``, ``low <= x <= high``: the bounds of one column at a time.

    Parameters
    ----------
    a_eq, a_ub : list of 1-d arrays
        Rows of the equations and of the inequalities (either may be empty).
    b_eq, b_ub : list of float
    box : list of (float or None, float or None)
        Each column's bounds, ``None`` for none, as :func:`scipy.optimize.linprog` takes them.

    Examples
    --------
    Two groups of 12 students, the first known to be 1 to 9: the second is 3 to 11.

    >>> program = Program([np.array([1.0, 1.0])], [12.0], [], [], [(1.0, 9.0), (0.0, None)])
    >>> program.solve(1, 1.0)[:2], program.solve(1, -1.0)[:2]
    ((0, 3.0), (0, -11.0))
    """

    def __init__(self, a_eq: list, b_eq: list, a_ub: list, b_ub: list, box: list):
        import highspy

        inf = highspy.kHighsInf
        size = len(box)
        rows = list(a_eq) + list(a_ub)
        matrix = sparse.csc_matrix(np.vstack(rows) if rows else np.zeros((0, size)))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = size, matrix.shape[0]
        lp.col_cost_ = np.zeros(size)
        lp.col_lower_ = np.array([-inf if low is None else low for low, _ in box], dtype=float)
        lp.col_upper_ = np.array([inf if high is None else high for _, high in box], dtype=float)
        lp.row_lower_ = np.array(list(b_eq) + [-inf] * len(b_ub), dtype=float)
        lp.row_upper_ = np.array(list(b_eq) + list(b_ub), dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self._highs = _highs()
        self._highs.passModel(lp)
        self._column = None
        self._feasible = False

    def solve(self, column: int, direction: float) -> tuple[int, float, np.ndarray | None]:
        """Minimise ``direction * x[column]``: ``(status, optimum, solution)``, statuses as ``linprog``'s.

        The optimum is the minimised objective (``nan`` unless ``OPTIMAL``), the
        solution ``None`` unless ``OPTIMAL``.
        """
        import highspy

        h = self._highs
        if self._column is not None and self._column != column:
            h.changeColCost(self._column, 0.0)
        h.changeColCost(column, float(direction))
        self._column = column
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible and self._feasible:
            status = highspy.HighsModelStatus.kUnbounded  # a program once solved is feasible
        if status == highspy.HighsModelStatus.kOptimal:
            self._feasible = True
            return OPTIMAL, h.getInfo().objective_function_value, np.asarray(h.getSolution().col_value)
        code = {highspy.HighsModelStatus.kInfeasible: INFEASIBLE,
                highspy.HighsModelStatus.kUnbounded: UNBOUNDED}.get(status, OTHER)
        return code, np.nan, None

"""The disclosure audit's linear programs against scipy's ``linprog`` (the same HiGHS, posed anew each time)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from equity_audit.ranges import INFEASIBLE, OPTIMAL, UNBOUNDED, Program


def _linprog_bounds(a_eq, b_eq, a_ub, b_ub, box, column):
    size = len(box)
    ends = []
    for direction in (1.0, -1.0):
        objective = np.zeros(size)
        objective[column] = direction
        res = linprog(objective, A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None,
                      A_ub=np.array(a_ub) if a_ub else None, b_ub=b_ub or None, bounds=box, method="highs")
        ends.append((res.status, direction * res.fun if res.status == 0 else None))
    return ends


def _program_bounds(program, column):
    ends = []
    for direction in (1.0, -1.0):
        status, optimum, _ = program.solve(column, direction)
        ends.append((status, direction * optimum if status == OPTIMAL else None))
    return ends


@st.composite
def _counts(draw):
    """Withheld group sizes under block totals, as the audit poses them: integer data, boxes of small cells."""
    size = draw(st.integers(2, 7))
    rows = draw(st.integers(1, 4))
    a_eq, b_eq = [], []
    for _ in range(rows):
        members = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=size, unique=True))
        line = np.zeros(size)
        line[members] = 1.0
        a_eq.append(line)
        b_eq.append(float(draw(st.integers(10, 120))))
    box = [draw(st.sampled_from([(1.0, 9.0), (10.0, None), (0.0, None)])) for _ in range(size)]
    return a_eq, b_eq, box


@settings(max_examples=150, deadline=None)
@given(_counts())
def test_every_bound_is_linprogs(problem):
    a_eq, b_eq, box = problem
    program = Program(a_eq, b_eq, [], [], box)
    for column in range(len(box)):
        mine, theirs = _program_bounds(program, column), _linprog_bounds(a_eq, b_eq, [], [], box, column)
        assert [s for s, _ in mine] == [s for s, _ in theirs]
        for (_, a), (_, b) in zip(mine, theirs):
            assert a == b or a == pytest.approx(b, abs=1e-7)


def test_a_count_pinned_by_two_tables_is_known_exactly():
    # 30 students in two groups; another table of the same students shows 25 + the small group + 2
    a_eq = [np.array([1.0, 1.0]), np.array([1.0, 0.0])]
    program = Program(a_eq, [30.0, 3.0], [], [], [(1.0, 9.0), (10.0, None)])
    assert program.solve(0, 1.0)[:2] == (OPTIMAL, 3.0)
    assert program.solve(0, -1.0)[:2] == (OPTIMAL, -3.0)


def test_no_upper_bound_is_unbounded_and_a_contradiction_is_infeasible():
    program = Program([], [], [np.array([-1.0, 1.0])], [0.0], [(10.0, None), (0.0, None)])
    assert program.solve(0, -1.0)[0] == UNBOUNDED
    assert program.solve(1, 1.0)[:2] == (OPTIMAL, 0.0)  # after an unbounded direction, the next is solved
    infeasible = Program([np.array([1.0, 1.0])], [5.0], [], [], [(10.0, None), (0.0, None)])
    assert infeasible.solve(1, 1.0)[0] == INFEASIBLE
    assert np.isnan(infeasible.solve(1, 1.0)[1])

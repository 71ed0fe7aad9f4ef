"""``inert_cells`` and ``restore_cells`` cell by cell: the same cells as pandas' string methods give.

Every table the run writes passes through them, several hundred times a run, so they work on plain
lists; this checks them against the column-wise reading of the rule (OWASP "CSV injection") on any
text, number or blank a district's labels could hold.
"""
import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from equity_audit.data.text import inert_cells, restore_cells

_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"


def _inert_by_column(values: pd.Series) -> pd.Series:
    """The rule read column-wise: line breaks become line feeds, then a risky first character gets a quote."""
    text = values.astype("string")
    breaks = text.str.contains("\r", regex=False).fillna(False).astype(bool)
    if breaks.any():
        text = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
        values = values.astype(object).mask(breaks, text.astype(object))
    risky = (text.str.contains(r"^[=+\-@\t\r\n]", regex=True).fillna(False)
             & ~text.str.fullmatch(_NUMBER).fillna(False)).astype(bool)
    return values.astype(object).mask(risky, "'" + text.astype(object))


cells = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False), st.integers(-50, 50),
                  st.text(alphabet=st.sampled_from(list("=+-@\t\r\n '0123456789.eEab")), max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.lists(cells, min_size=1, max_size=12))
def test_each_cell_is_made_inert_as_the_column_rule_says(values):
    column = pd.Series(values, dtype=object)
    written = inert_cells(pd.DataFrame({"label": column}))["label"]
    expected = _inert_by_column(column)
    assert [_same(a, b) for a, b in zip(written.tolist(), expected.tolist())] == [True] * len(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("'=+-@\tab1 ")), max_size=6)),
                min_size=1, max_size=12))
def test_what_is_written_reads_back_as_the_district_wrote_it(values):
    column = pd.Series(values, dtype=object)
    written = inert_cells(pd.DataFrame({"label": column}))["label"].tolist()
    back = restore_cells(pd.DataFrame({"label": written}))["label"].tolist()
    for original, stored, restored in zip(values, written, back):
        if original is None:
            assert pd.isna(restored)
        elif not re.match(r"^'[=+\-@\t]", original):  # text already quoted so is read back unquoted: ambiguous
            assert restored == original
            assert not re.match(r"^[=+\-@\t]", stored) or re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)\s*", stored)


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and a != a) or (isinstance(b, float) and b != b):
        return pd.isna(a) and pd.isna(b)
    return a == b

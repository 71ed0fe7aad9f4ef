"""Text from the district, made inert before anyone reads it.

School names, group labels, domains and every other value in the district's
files are data, never markup or formulas. Two rules, applied where text leaves
the package:

* :func:`inert_markdown` before a value enters Markdown (and so HTML): it shows
  as typed, with no live tag, link, image, emphasis or maths.
* :func:`inert_cells` before a table is written as CSV (and :func:`inert_formula`
  for one value): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return gets a leading apostrophe, so a spreadsheet never runs it as a
  formula (OWASP "CSV injection"). Numbers, including negative ones, stay numbers.
  :func:`restore_cells` undoes it when the package reads its own tables back.

Examples
--------
>>> inert_markdown("[x](javascript:alert(1)) <b>Quillfeather</b>")
'\\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\) &lt;b&gt;Quillfeather&lt;/b&gt;'
>>> inert_formula("=HYPERLINK(1)"), inert_formula("-0.25"), inert_formula("+5 pts")
("'=HYPERLINK(1)", '-0.25', "'+5 pts")
"""
from __future__ import annotations

import html
import re

import pandas as pd

__all__ = ["inert_markdown", "inert_formula", "inert_cells", "restore_cells", "FORMULA_START"]

#: First characters that make a spreadsheet read a cell as a formula (or a DDE command);
#: a line feed too, since a carriage return is written as one (see :func:`inert_cells`).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

# Every ASCII punctuation that CommonMark or its extensions (tables, strikethrough, maths,
# autolinks) give a meaning to; a backslash makes each one literal. & < > are HTML-escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_RISKY = r"^[=+\-@\t\r\n]"
_PREFIXED = r"^'[=+\-@\t\r\n]"


def inert_markdown(value) -> str:
    """``value`` as Markdown that shows exactly this text: no tags, links, images or emphasis.

    Line breaks become spaces, so a value cannot start a new list item or heading.

    Examples
    --------
    >>> inert_markdown("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert\\\\(1\\\\)&gt;'
    """
    text = " ".join(str(value).split())
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def inert_formula(value):
    """A text value a spreadsheet will not run: ``'`` before a risky first character.

    Anything that is not a string, and a string that is a plain number, is returned as it is.

    Examples
    --------
    >>> inert_formula("@SUM(A1)"), inert_formula(-3)
    ("'@SUM(A1)", -3)
    """
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + value if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value) else value


def _like(values: pd.Series, original: pd.Series) -> pd.Series:
    """``values`` in the dtype of ``original`` when that is a string dtype (object stays object)."""
    keep_object = pd.api.types.is_object_dtype(original) or isinstance(original.dtype, pd.CategoricalDtype)
    return values if keep_object else values.astype(original.dtype)


def _text_columns(table: pd.DataFrame) -> list:
    return [c for c in table.columns
            if pd.api.types.is_object_dtype(table[c]) or pd.api.types.is_string_dtype(table[c])
            or isinstance(table[c].dtype, pd.CategoricalDtype)]  # school names are often categories


def inert_cells(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells and column names cannot run as spreadsheet formulas.

    Only text columns change; numeric columns (and numbers written as text, such as
    ``"-0.25"``) stay as they are. A carriage return inside text becomes a line feed:
    a CSV writer leaves a lone carriage return unquoted, and a spreadsheet would start a
    new row (and maybe a formula) there.

    Examples
    --------
    >>> inert_cells(pd.DataFrame({"school": ["=1+1", "Quillfeather"], "gap": [-0.2, 0.1]})).to_dict("list")
    {'school': ["'=1+1", 'Quillfeather'], 'gap': [-0.2, 0.1]}
    """
    out = table.copy()
    for column in _text_columns(out):
        values = out[column]
        # a few hundred cells a column: plain Python beats pandas' string methods here
        cells = values.astype(object).tolist()
        inert = [_inert_cell(v) for v in cells]
        if any(a is not b for a, b in zip(inert, cells)):
            out[column] = _like(pd.Series(inert, index=values.index, dtype=object), values)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = [inert_formula(c) for c in out.columns]
    return out


_RISKY_START = re.compile(_RISKY)
_PREFIXED_START = re.compile(_PREFIXED)


def _inert_cell(value):
    """One cell as :func:`inert_cells` writes it: the very object when nothing changes."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return value
    text = value if isinstance(value, str) else str(value)
    fixed = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    if _RISKY_START.match(fixed) and not _NUMBER.fullmatch(fixed):
        return "'" + fixed
    return fixed if fixed is not text else value


def restore_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`inert_cells` on a table read back from CSV (the text as the district wrote it).

    Examples
    --------
    >>> restore_cells(pd.DataFrame({"'=x": ["'+5 pts", "'s"]})).to_dict("list")
    {'=x': ['+5 pts', "'s"]}
    """
    out = table.copy()
    for column in _text_columns(out):
        cells = out[column].astype(object).tolist()
        restored = [v[1:] if isinstance(v, str) and _PREFIXED_START.match(v) else v for v in cells]
        if any(a is not b for a, b in zip(restored, cells)):
            out[column] = _like(pd.Series(restored, index=out.index, dtype=object), out[column])
    out.columns = [c[1:] if isinstance(c, str) and re.match(_PREFIXED, c) else c for c in out.columns]
    return out

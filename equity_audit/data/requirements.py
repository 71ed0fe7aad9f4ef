"""Which tables an analysis needs, and which of them a district did not provide.

A requirement is a list of alternatives, each a list of tables that together
suffice: ``[["levels"], ["evidence", "standards"]]`` reads "levels, or evidence
with standards". The check takes the names of the tables provided, so a step
of any layer can ask it without handing the loaded district upward.

Examples
--------
>>> missing_tables({"students", "evidence"}, [["levels"], ["evidence", "standards"]])
['levels', 'evidence and standards']
>>> missing_tables({"students", "levels"}, [["levels"], ["evidence", "standards"]])
[]
>>> missing_tables({"students"}, [])
[]
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["missing_tables"]


def missing_tables(provided: Collection[str], alternatives: Sequence[Sequence[str]]) -> list[str]:
    """What to provide so that one of ``alternatives`` is met; empty when one already is.

    Parameters
    ----------
    provided : collection of str
        Names of the tables the district provided (a loaded district's ``tables`` works).
    alternatives : sequence of sequence of str
        Each inner sequence is one set of tables that together suffice; empty means no need.

    Returns
    -------
    list of str
        One phrase per alternative ("evidence and standards"), or ``[]`` when met.
    """
    if not alternatives or any(all(name in provided for name in option) for option in alternatives):
        return []
    return [" and ".join(option) for option in alternatives]

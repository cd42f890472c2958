"""``ds`` outside the times pandas can hold (session 19, i29-probe): 1600-01-01 was "Out of bounds
nanosecond timestamp: 1600-01-01 00:00:00" on pandas 3 (no word of how to fix it), and on pandas 2
"ds has values that are not timestamps, e.g. '2026-01-01'", naming a good value."""

from __future__ import annotations

import pandas as pd
import pytest

from fcplan.core.panel import PanelError, parse_timestamps


@pytest.mark.parametrize("values", [["1600-01-01", "1600-01-02"], ["2026-01-01", "2300-01-02"]],
                         ids=["before-1677", "after-2262"])
def test_a_year_out_of_range_says_so(values) -> None:
    with pytest.raises(PanelError, match="outside 1677-09-21 to 2262-04-11, the times pandas can hold; check the"):
        parse_timestamps(pd.Series(values))


def test_a_blank_cell_beside_a_bad_value_is_not_taken_for_a_year_out_of_range() -> None:
    # "   " (stripped to "") reads as NaT, which lies in no range: the message said the column "holds ''",
    # outside the times pandas can hold, and named neither the bad value nor how to write it.
    with pytest.raises(PanelError, match=r"not timestamps, e\.g\. 'soon'"):
        parse_timestamps(pd.Series(["2026-01-01", "   ", "soon"]))


def test_a_bad_first_value_is_named_without_reading_each_other_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # The range check read every value one by one before the check that names a bad one: a column whose
    # first value is bad took a pass over all its rows (seconds per million) to say so.
    import fcplan.core.panel as panel

    read: list[object] = []

    class Stamp:  # pandas' Timestamp, counting the values read one at a time
        min, max = pd.Timestamp.min, pd.Timestamp.max

        def __new__(cls, *args: object, **kwargs: object) -> pd.Timestamp:
            read.append(args[0] if args else None)
            return pd.Timestamp(*args, **kwargs)

    class Pandas:
        Timestamp = Stamp

        def __getattr__(self, name: str) -> object:
            return getattr(pd, name)

    monkeypatch.setattr(panel, "pd", Pandas())
    values = ["soon", *pd.date_range("2026-01-01", periods=2000, freq="h").strftime("%Y-%m-%d %H:%M")]
    with pytest.raises(PanelError, match=r"not timestamps, e\.g\. 'soon'"):
        parse_timestamps(pd.Series(values))
    assert len(read) <= 10, f"{len(read)} values read one by one"

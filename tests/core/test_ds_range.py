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

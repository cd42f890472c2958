"""The Center page marks a center's own public holidays: none for a center whose centers-file
table says ``holiday_country = ""`` (it showed the dashboard's default country's, Korea's)."""

from __future__ import annotations

import pandas as pd
import pytest

from fcplan.dashboard import data
from fcplan.dashboard.views import center


@pytest.fixture
def configs(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = {"FC-NONE": {"timezone": "Asia/Seoul", "holiday_country": None},
              "FC-US": {"timezone": "America/New_York", "holiday_country": "US"}}
    monkeypatch.setattr(data, "center_configs", lambda url: stored)


def test_a_center_without_a_holiday_country_keeps_none(configs) -> None:
    assert data.holiday_country_of("sqlite://", "KR", "FC-NONE") == ""
    assert data.holiday_country_of("sqlite://", "KR", "FC-US") == "US"
    assert data.holiday_country_of("sqlite://", "KR", "FC-UNPLANNED") == "KR"


def test_its_center_page_marks_no_holidays(configs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "config", lambda: type("C", (), {"url": "sqlite://", "holiday_country": "KR"})())
    new_year = pd.Timestamp("2026-01-01")
    assert center.holidays_between("FC-NONE", new_year, new_year + pd.Timedelta(days=60)) == {}
    assert center.holidays_between("FC-US", new_year, new_year + pd.Timedelta(days=1))

"""Odd values in the database the pages read (not a database outage): each page shows a sentence
saying what to do, never a traceback (Streamlit's default shows the whole traceback to the user)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from streamlit.testing.v1 import AppTest

from .test_pages import APP, run_page

PAGES = ["views/network.py", "views/center.py", "views/staffing.py", "views/whatif.py", "views/models.py",
         "views/alerts.py", "views/stream.py"]


def damage(url: str, sql: str) -> None:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        conn.execute(sql)
        conn.commit()


def test_when_a_run_stores_its_ensemble_weights_as_a_list_then_the_models_page_draws_without_them(
    make_database,
) -> None:
    """``'list' object has no attribute 'items'``: the Models page showed a traceback."""
    url, _ = make_database()
    damage(url, "UPDATE forecast_runs SET weights = '[1]'")
    at = run_page("views/models.py")
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
def test_when_a_plan_stored_a_time_zone_this_machine_does_not_know_then_every_page_draws_and_says_so(
    make_database, page: str
) -> None:
    """A plan made where the tz database is newer (or a hand-edited centers file) stored a zone
    ZoneInfo cannot load: every page stopped on ZoneInfoNotFoundError. Now the center's times are
    in the dashboard's zone and the sidebar says why."""
    url, _ = make_database()
    damage(url, "UPDATE plan_runs SET params = json_set(params, '$.centers.\"FC-ICN\".timezone', 'America/Nowhere')")
    at = run_page(page)
    assert not at.exception
    warned = [w.value for w in at.sidebar.warning]
    assert any("FC-ICN" in w and "America/Nowhere" in w for w in warned), warned


def test_when_a_section_cannot_read_a_value_then_it_says_what_to_do_instead_of_a_traceback(
    make_database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only database errors were caught: any other exception (an odd value the checks let
    through) showed Streamlit's traceback in place of the page."""
    from fcplan.dashboard import data

    make_database()

    def odd(*args: object, **kwargs: object) -> None:
        raise ValueError("an odd value")

    monkeypatch.setattr(data, "decisions", odd)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "could not be drawn" in errors[0] and "ValueError: an odd value" in errors[0]
    assert "retries by itself" in errors[0]

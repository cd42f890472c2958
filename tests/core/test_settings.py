"""Settings: FCPLAN_* variables parse into one frozen object, or fail clearly."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from fcplan.core import settings as settings_module
from fcplan.core.settings import DEFAULT_QUANTILES, MAX_HOURS, MAX_SECONDS, Settings, environment_variables


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean FCPLAN_* environment; set variables with ``env.setenv``."""
    for var in list(os.environ):
        if var.startswith("FCPLAN_"):
            monkeypatch.delenv(var)
    monkeypatch.setattr(settings_module, "_WARNED", set(), raising=False)  # (said once per process)
    return monkeypatch


def test_without_variables_the_defaults_use_the_embedded_broker_and_sqlite(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.kafka.embedded
    assert settings.kafka.servers == "127.0.0.1:9092"
    assert settings.database.url.startswith("sqlite:///")
    assert settings.forecast.quantiles == DEFAULT_QUANTILES
    assert settings.centers == ()


def test_database_url_comes_from_fcplan_database_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_DATABASE_URL", "postgresql+psycopg://u:p@db:5432/x")
    assert Settings().database.url == "postgresql+psycopg://u:p@db:5432/x"


def test_kafka_bootstrap_turns_the_embedded_broker_off(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_KAFKA_BOOTSTRAP", "kafka:9092")
    settings = Settings()
    assert not settings.kafka.embedded
    assert settings.kafka.servers == "kafka:9092"


def test_a_field_with_an_underscore_in_its_name_is_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_KAFKA_BROKER_PORT", "19093")
    env.setenv("FCPLAN_PLANNER_MINUTES_PER_ORDER", "3.5")
    settings = Settings()
    assert settings.kafka.broker_port == 19093
    assert settings.planner.minutes_per_order == 3.5


@pytest.mark.parametrize("value", ["ICN1, PUS2,DAE3", '["ICN1", "PUS2", "DAE3"]'])
def test_centers_parse_as_csv_or_as_a_json_list(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("FCPLAN_CENTERS", value)
    assert Settings().centers == ("ICN1", "PUS2", "DAE3")


def test_empty_centers_accepts_every_center(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_CENTERS", "")
    assert Settings().centers == ()


def test_quantiles_come_back_sorted_and_without_repeats(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_FORECAST_QUANTILES", "0.9,0.1,0.5,0.1")
    assert Settings().forecast.quantiles == (0.1, 0.5, 0.9)


def test_quantiles_accept_a_json_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_FORECAST_QUANTILES", "[0.95, 0.05]")
    assert Settings().forecast.quantiles == (0.05, 0.95)


@pytest.mark.parametrize("value", ["0,0.5", "0.5,1", "1.5"])
def test_a_quantile_outside_zero_and_one_is_rejected(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("FCPLAN_FORECAST_QUANTILES", value)
    with pytest.raises(ValidationError, match="strictly between 0 and 1"):
        Settings()


def test_shifts_and_models_parse_as_csv(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_PLANNER_SHIFTS", "early:0-12,late:12-0")
    env.setenv("FCPLAN_FORECAST_MODELS", "ets,seasonal_naive")
    settings = Settings()
    assert settings.planner.shifts == ("early:0-12", "late:12-0")
    assert settings.forecast.models == ("ets", "seasonal_naive")


def test_a_bad_timezone_names_the_variable_and_gives_an_example(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError) as info:
        Settings()
    message = str(info.value)
    assert "FCPLAN_TIMEZONE='Mars/Olympus'" in message
    assert "Asia/Seoul" in message


def test_a_non_numeric_port_is_a_validation_error(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_KAFKA_BROKER_PORT", "ninety")
    with pytest.raises(ValidationError, match="broker_port"):
        Settings()


def test_an_out_of_range_value_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_PLANNER_SHRINKAGE", "1.2")
    with pytest.raises(ValidationError, match="shrinkage"):
        Settings()


def test_settings_are_frozen(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.database.url = "sqlite:///other.db"  # type: ignore[misc]


def test_service_quantile_is_the_newsvendor_ratio(settings_factory) -> None:
    settings = settings_factory(planner={"cost_short": 3.0, "cost_idle": 1.0})
    assert settings.planner.service_quantile == pytest.approx(0.75)


def test_environment_variables_lists_every_field_of_every_section() -> None:
    names = environment_variables()
    expected = {f"FCPLAN_{s}_{f}".upper() for s in ("kafka", "database", "streams", "forecast", "planner")
                for f in Settings.model_fields[s].annotation.model_fields}
    assert expected <= names
    assert {"FCPLAN_CENTERS", "FCPLAN_TIMEZONE", "FCPLAN_DATABASE_URL", "FCPLAN_KAFKA_BOOTSTRAP"} <= names


def test_every_listed_variable_is_really_read(env: pytest.MonkeyPatch) -> None:
    """Each name in environment_variables(), when set to a bad value, changes the
    outcome: proof the list and the parser agree."""
    silently_ignored = []
    for name in sorted(environment_variables()):
        env.setenv(name, "~bogus~value~")
        try:
            Settings()
        except (ValidationError, SettingsError):  # SettingsError: a JSON-valued variable that is not JSON
            pass
        else:
            parsed = Settings()
            if "~bogus~value~" not in repr(parsed.model_dump()):
                silently_ignored.append(name)
        env.delenv(name)
    assert silently_ignored == []


# "inf" was accepted and overflowed where it became a duration (the worker's start failed with
# OverflowError: cannot convert float infinity to integer); "nan" was refused as "less than or equal to 24".
@pytest.mark.parametrize(
    ("var", "value"),
    [("FCPLAN_STREAMS_LATE_GRACE_HOURS", "inf"), ("FCPLAN_STREAMS_MAX_FUTURE_HOURS", "inf"),
     ("FCPLAN_PLANNER_SHIFT_HOURS", "nan"), ("FCPLAN_FORECAST_TIME_LIMIT_S", "inf")],
)
def test_inf_and_nan_settings_are_refused_as_not_finite(env: pytest.MonkeyPatch, var: str, value: str) -> None:
    env.setenv(var, value)
    with pytest.raises(ValidationError, match="finite number"):
        Settings()


# "hooks.example.com" (no scheme) was accepted here and raised in every retrain, before its fit.
def test_an_alert_webhook_that_is_not_an_http_url_is_refused_at_start(env: pytest.MonkeyPatch) -> None:
    env.setenv("FCPLAN_FORECAST_ALERT_WEBHOOK", "hooks.example.com/fcplan")
    with pytest.raises(ValidationError, match="must be an http"):
        Settings()
    env.setenv("FCPLAN_FORECAST_ALERT_WEBHOOK", " https://hooks.example.com/fcplan ")
    assert Settings().forecast.alert_webhook == "https://hooks.example.com/fcplan"


DURATIONS = [
    "FCPLAN_STREAMS_LATE_GRACE_HOURS",
    "FCPLAN_STREAMS_MAX_FUTURE_HOURS",
    "FCPLAN_STREAMS_BATCH_WITHIN_S",
    "FCPLAN_STREAMS_STOP_TIMEOUT_S",
    "FCPLAN_KAFKA_REBALANCE_TIMEOUT_S",
    "FCPLAN_KAFKA_SESSION_TIMEOUT_S",
    "FCPLAN_KAFKA_HEARTBEAT_INTERVAL_S",
    "FCPLAN_KAFKA_MAX_POLL_INTERVAL_S",
]


# 1e12 (finite, so not refused as "inf" was) was accepted: FCPLAN_STREAMS_LATE_GRACE_HOURS=1e12 failed the
# worker's start with "OverflowError: Python int too large to convert to C int" (a traceback), and the
# Kafka timeouts became milliseconds past what the clients' int32 fields hold.
@pytest.mark.parametrize("var", DURATIONS)
def test_a_duration_too_long_to_compute_with_is_refused_naming_the_variable(env: pytest.MonkeyPatch, var: str) -> None:
    from fcplan.app.console import one_line

    env.setenv(var, "1e12")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert one_line(info.value).startswith(f"{var}='1e12': Input should be less than or equal to")


@given(
    grace=st.floats(0, MAX_HOURS), ahead=st.floats(0, MAX_HOURS), seconds=st.floats(0, MAX_SECONDS, exclude_min=True)
)
@hypothesis_settings(max_examples=40, deadline=None)
def test_every_accepted_duration_can_be_computed_with(grace: float, ahead: float, seconds: float) -> None:
    """What the worker makes of the durations: timedeltas around now, int32 milliseconds, timers."""
    import threading
    from datetime import UTC, datetime

    from fcplan.streams.app import limits_from

    s = Settings(
        streams={"late_grace_hours": grace, "max_future_hours": ahead, "stop_timeout_s": seconds},
        kafka={"session_timeout_s": seconds},
    )
    limits = limits_from(s)
    now = datetime.now(UTC)
    assert now - limits.late_grace <= now + limits.max_future
    assert int(s.kafka.session_timeout_s * 1000) < 2**31 and s.streams.stop_timeout_s <= threading.TIMEOUT_MAX


# Session 18 (i28-probe): the top level takes extra variables, so a misspelt section or top-level
# name was ignored without a word and its default used (FCPLAN_DATABSE_URL: the SQLite file).
@pytest.mark.parametrize(
    ("var", "closest"),
    [("FCPLAN_DATABSE_URL", "FCPLAN_DATABASE_URL"), ("FCPLAN_TIMEZON", "FCPLAN_TIMEZONE"),
     ("FCPLAN_CENTRES", "FCPLAN_CENTERS"), ("fcplan_forcast_models", "FCPLAN_FORECAST_MODELS")],
)
def test_a_misspelt_variable_is_a_warning_naming_the_closest_setting(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, var: str, closest: str
) -> None:
    from fcplan.core.settings import load_settings

    env.setenv(var, "x")
    with caplog.at_level("WARNING", logger="fcplan.core.settings"):
        settings = load_settings()
    assert settings.timezone == "Asia/Seoul"  # still ignored: the defaults hold
    assert f"{var} is not an fcplan setting" in caplog.text and f"did you mean {closest}?" in caplog.text


def test_known_variables_and_whole_sections_are_not_warned_about(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fcplan.core.settings import load_settings, unknown_variables

    for var in ("FCPLAN_DATABASE_URL", "FCPLAN_TIMEZONE", "FCPLAN_PLANNER_MINUTES_PER_ORDER", "FCPLAN_TEST_PG_URL"):
        env.setenv(var, "Asia/Seoul" if var == "FCPLAN_TIMEZONE" else "3" if "MINUTES" in var else "sqlite://")
    env.setenv("FCPLAN_DATABASE", '{"url": "sqlite://"}')  # a section as JSON
    with caplog.at_level("WARNING", logger="fcplan.core.settings"):
        load_settings()
    assert "not an fcplan setting" not in caplog.text
    assert unknown_variables({"FCPLAN_XYZZY": "1", "PATH": "/bin"}) == {"FCPLAN_XYZZY": None}


# FCPLAN_FORECAST_HORIZON=100000 was accepted at start; every retrain then failed (its days run past
# 2262, the latest date pandas holds) while the demo's loop went on.
def test_a_horizon_past_ten_years_is_refused_at_start(env: pytest.MonkeyPatch) -> None:
    from fcplan.core.settings import MAX_HORIZON_DAYS

    env.setenv("FCPLAN_FORECAST_HORIZON", "100000")
    with pytest.raises(ValidationError, match="less than or equal to 3660"):
        Settings()
    env.setenv("FCPLAN_FORECAST_HORIZON", str(MAX_HORIZON_DAYS))
    assert Settings().forecast.horizon == MAX_HORIZON_DAYS


# The dashboard reads the settings at every rerun (every click, every page): a misspelt variable in its
# environment was a warning in the server's log each time.
def test_a_misspelt_variable_is_said_once_per_process(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fcplan.core.settings import load_settings

    env.setenv("FCPLAN_TIMEZON", "UTC")
    with caplog.at_level("WARNING", logger="fcplan.core.settings"):
        for _ in range(3):
            load_settings()
    assert caplog.text.count("FCPLAN_TIMEZON is not an fcplan setting") == 1


# session 20, i30-probe: a section's variable naming no setting said only "Extra inputs are not permitted":
# FCPLAN_PLANNER__SHRINKAGE (pydantic's nested delimiter), FCPLAN_FORECAST_HORIZEN (a typo) and
# FCPLAN_PLANNER_SERVICE_LEVEL (a centers-file field) now say what to write instead.
@pytest.mark.parametrize(("var", "says"), [
    ("FCPLAN_PLANNER__SHRINKAGE", "did you mean FCPLAN_PLANNER_SHRINKAGE?"),
    ("FCPLAN_FORECAST_HORIZEN", "did you mean FCPLAN_FORECAST_HORIZON?"),
    ("FCPLAN_PLANNER_SERVICE_LEVEL", "set it per center in a centers file"),
])
def test_a_section_variable_naming_no_setting_says_what_to_write(env: pytest.MonkeyPatch, var: str, says: str) -> None:
    from fcplan.app.console import one_line

    env.setenv(var, "1")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert says in one_line(info.value)

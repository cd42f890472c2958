"""The one panel shape at every boundary: ``unique_id``, ``ds``, ``y`` (+ covariates).

A *panel* is a long frame: one row per series (``unique_id``, str) and timestamp
(``ds``, tz-naive, on a fixed frequency), target ``y`` (float), then numeric
covariate columns. *Future* covariates come in a second frame keyed the same
way. A *forecast frame* is ``unique_id, ds, model`` then one column per
quantile level named as written (``"0.1"``, ``"0.5"``). Every public entry
point calls :func:`validate_panel` and friends, which say what is wrong and how
to fix it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fcplan.core.contracts import CONTROL

UNIQUE_ID = "unique_id"
DS = "ds"
Y = "y"
MODEL = "model"
#: The model of a forecast frame that the planner and the dashboard use when it holds several.
ENSEMBLE = "ensemble"
KEYS = [UNIQUE_ID, DS]

log = logging.getLogger(__name__)


class PanelError(ValueError):
    """A frame does not have the panel shape; the message says how to fix it."""


def _examples(frame: pd.DataFrame, mask: pd.Series, n: int = 3) -> str:
    return frame.loc[mask, KEYS].head(n).to_dict("records").__repr__()


def require_columns(df: pd.DataFrame, columns: Sequence[str], name: str, hint: str = "") -> None:
    """Raise :class:`PanelError` naming the ``columns`` ``df`` lacks, what it has, and ``hint``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PanelError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}." + (f" {hint}" if hint else ""))


#: The largest magnitude a panel's numbers may have: their squares (losses, variances) stay finite.
MAX_ABS_VALUE = 1e100


def validate_panel(df: pd.DataFrame, name: str = "history", require_target: bool = True) -> pd.DataFrame:
    """Check and normalise a panel; returns a sorted copy.

    Requires columns ``unique_id``, ``ds`` and (if ``require_target``) ``y``; any
    other column must be numeric (a covariate). ``unique_id`` becomes str, ``ds``
    tz-naive datetime64, ``y`` float64; rows are sorted by (unique_id, ds). Ids lose
    surrounding whitespace (``"FC-1 "`` is ``FC-1``).
    """
    if not isinstance(df, pd.DataFrame):
        raise PanelError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    required = [*KEYS, Y] if require_target else KEYS
    require_columns(df, required, name, f"Rename your id, timestamp and target columns to {required}.")
    out = df.copy()
    if _any_blank(out[UNIQUE_ID]):
        no_id = blank_ids(out[UNIQUE_ID])
        raise PanelError(
            f"{name}.unique_id is empty in {int(no_id.sum())} row(s) (e.g. CSV line(s) "
            f"{(np.flatnonzero(no_id.to_numpy())[:3] + 2).tolist()}); give every row the id of its series "
            "or drop those rows"
        )
    # "FC-1 " is FC-1: a stray space split a series in two, each forecast on part of its rows
    out[UNIQUE_ID] = _stripped(out[UNIQUE_ID].astype(str))
    out[DS] = parse_timestamps(out[DS], name)
    if out[DS].isna().any():
        raise PanelError(f"{name}.ds has {int(out[DS].isna().sum())} missing timestamps; drop or fill them")
    if require_target and out[Y].dtype != np.float64:  # (float64 is as it would become)
        y = pd.to_numeric(out[Y], errors="coerce")
        bad = y.isna() & out[Y].notna()
        if bad.any():
            raise PanelError(
                f"{name}.y has {int(bad.sum())} non-numeric values, e.g. {out.loc[bad, Y].head(3).tolist()}"
            )
        out[Y] = y.astype("float64")
    if require_target and len(out) and out[Y].isna().all():
        raise PanelError(f"{name}.y is empty in every row; fill in the observed values (orders per step)")
    covariates = [c for c in out.columns if c not in (*KEYS, Y)]
    for col in covariates:
        is_number = pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])
        if len(out) and not is_number:  # (a file with a header and no rows has text columns)
            raise PanelError(
                f"{name} covariate {col!r} is not numeric (dtype {out[col].dtype}); encode it as numbers "
                "(e.g. one 0/1 column per category) or drop it"
            )
        if out[col].dtype != np.float64:
            out[col] = out[col].astype("float64")
    numeric = [Y] if require_target else []
    for col in [*numeric, *covariates]:
        infinite = np.isinf(out[col].to_numpy())
        if infinite.any():
            raise PanelError(
                f"{name}.{col} has {int(infinite.sum())} infinite value(s), e.g. at {_examples(out, infinite)}; "
                "replace them by the real values (or leave them empty when unknown)"
            )
        huge = np.abs(out[col].to_numpy()) > MAX_ABS_VALUE
        if huge.any():  # squared in the models' losses they overflow: the engine failed on an AssertionError
            raise PanelError(
                f"{name}.{col} has {int(huge.sum())} value(s) beyond +-{MAX_ABS_VALUE:g}, e.g. at "
                f"{_examples(out, huge)}; rescale the column (e.g. to thousands) or fix the values"
            )
    if _sorted_unique(out):  # as the engine's own frames are: the sort below would leave it as it is
        return out.reset_index(drop=True)
    dup = out.duplicated(KEYS, keep=False)
    if dup.any():
        _repeated_hour(pd.Series(df[DS].to_numpy()[dup.to_numpy()]), name)
        raise PanelError(
            f"{name} has {int(dup.sum())} duplicate (unique_id, ds) rows, e.g. {_examples(out, dup)}; "
            "aggregate them (e.g. sum per day) so each series has one row per timestamp"
        )
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def check_printable_ids(ids: pd.Series, name: str) -> None:
    """A :class:`PanelError` naming the first id that holds a control character ("A\x00B" was a
    series of its own, written back with the NUL into the forecast file). For files a user gives
    (the retrainer's stored ids are checked where they are written, by the streams)."""
    ids = ids.dropna().astype(str).str.strip()
    distinct = dict.fromkeys(ids.tolist())  # not pd.unique: pandas 2 hashes "A\x00" as "A"
    odd = [i for i in distinct if CONTROL.search(i)]
    if odd:
        char = CONTROL.search(odd[0]).group()
        line = int(ids.index[(ids == odd[0]).to_numpy()][0]) + 2
        raise PanelError(
            f"{name}.unique_id {odd[0]!r} (CSV line {line}) holds the control character U+{ord(char):04X}; "
            f"{len(odd)} id(s) do: remove it from the ids (a stray tab or NUL from an export)"
        )


def _any_blank(ids: pd.Series) -> bool:
    """Whether :func:`blank_ids` marks a row of ``ids``, judged once per distinct id."""
    return any((pd.api.types.is_scalar(i) and pd.isna(i)) or str(i).strip() == "" for i in pd.unique(ids))


def _sorted_unique(panel: pd.DataFrame) -> bool:
    """Whether the rows of ``panel`` (``ds`` without NaT) are sorted by (``unique_id``, ``ds``)
    with no (``unique_id``, ``ds``) twice: then sorting leaves them in place and there is no
    duplicate to name."""
    ids = panel[UNIQUE_ID]
    if not ids.is_monotonic_increasing:
        return False
    values, ds = ids.to_numpy(), panel[DS].to_numpy()
    same = values[1:] == values[:-1]
    return bool(np.all(ds[1:][same] > ds[:-1][same]))


def _repeated_hour(raw: pd.Series, name: str) -> None:
    """:class:`PanelError` for duplicate rows whose ``ds`` texts differ only by their UTC offset: the
    hour a daylight-saving change repeats (``02:00+02:00`` then ``02:00+01:00``), one local time."""
    if not (raw.dtype == object or pd.api.types.is_string_dtype(raw)):
        return
    text = raw.astype("string").str.strip()
    offsets = text.str.contains(_OFFSET, regex=True)
    if not offsets.fillna(False).all():
        return
    walls = text.str.replace(_OFFSET, "", regex=True)
    pairs = text.groupby(walls.to_numpy()).unique()
    shifted = pairs[pairs.map(len) > 1]
    if not shifted.empty:
        raise PanelError(
            f"{name}.ds holds the same local time with different UTC offsets, e.g. {list(shifted.iloc[0])}: ds is "
            "read as local wall-clock time, and a daylight-saving change repeats an hour. Sum those rows into "
            "one per series and local hour, or write ds in UTC (e.g. 2025-10-26T01:00:00Z) to forecast in UTC"
        )


def check_observed(panel: pd.DataFrame, name: str = "history") -> None:
    """:class:`PanelError` naming the series of a validated panel whose ``y`` is empty in every row:
    a forecaster's entry point checks this (its forecast would be zeros made of nothing); a
    model's fit does not (a backtest window may cut a series before its first value)."""
    observed = panel[Y].notna().groupby(panel[UNIQUE_ID], sort=True).any()
    if not observed.all():
        empty = observed.index[~observed].tolist()
        raise PanelError(
            f"{name}: {len(empty)} series have no value of y in any row, e.g. {empty[:5]}; fill in their "
            "observed values (0 where nothing happened) or drop those series"
        )


def blank_ids(ids: pd.Series) -> pd.Series:
    """Where a ``unique_id`` column is missing or blank (a row no series can own)."""
    return ids.isna() | (ids.astype(str).str.strip() == "")


#: an offset or zone at the end of a timestamp string (``Z``, ``+09:00``, ``-0500``)
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def parse_timestamps(values: pd.Series, name: str = "history") -> pd.Series:
    """``ds`` as tz-naive ``datetime64[ns]``, read the way a person would read it.

    Strings in one or several ISO layouts, US ``MM/DD/YYYY`` or, when that does not fit,
    ``DD/MM/YYYY``; integers ``YYYYMMDD`` (never nanoseconds since 1970); timestamps with a
    zone or UTC offsets keep their local wall-clock time, also when the offset changes
    with daylight saving time. Missing values stay NaT (the caller counts them);
    anything else is a :class:`PanelError` naming a bad value and the layout to use.
    """
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":  # already timestamps: as they are
        return values.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        values = _numeric_dates(values, name)
    attempts: list[dict[str, object]] = [{}, {"format": "ISO8601"}, {"format": "%Y%m%d"}, {"dayfirst": True}]
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        text = values.astype("string").str.strip()  # "2026-03-02 " is 2026-03-02 (it failed the whole column)
        if text.str.contains(_OFFSET, regex=True).any():  # local wall-clock time, whatever the offset
            text = text.str.replace(_OFFSET, "", regex=True)
        values = text.astype(object).where(text.notna(), None)
    ds = None
    for kwargs in attempts:
        try:
            with warnings.catch_warnings():  # "could not infer format", "parsing in %d/%m/%Y": read on
                warnings.simplefilter("ignore", UserWarning)
                ds = pd.to_datetime(values, **kwargs)  # type: ignore[call-overload]
            break
        except (ValueError, TypeError, OverflowError):
            continue
    if ds is None:
        # the first value that reads as no time, or as one outside the range (pandas 2 refused the whole
        # column, "not timestamps, e.g." a good first value); one pass, that stops there
        bad, far = next(((v, why) for v in values.dropna() if (why := _unreadable(v))), (None, None))
        if far == "far":
            raise PanelError(_range_message(name, f"holds {bad!r}"))
        if bad is None:  # each value reads alone: the rows mix layouts (it named a good first value)
            shapes = values.dropna().astype(str).str.strip().str.replace(r"\d", "9", regex=True)
            other = values.dropna()[shapes != shapes.iloc[0]]
            if len(other):
                line = int(np.flatnonzero(values.index == other.index[0])[0]) + 2
                raise PanelError(
                    f"{name}.ds mixes layouts, e.g. {values.dropna().iloc[0]!r} and {other.iloc[0]!r} (CSV line "
                    f"{line}); write every row in one layout, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
                )
            bad = values.dropna().iloc[0]
        raise PanelError(
            f"{name}.ds has values that are not timestamps, e.g. {bad!r}; write them as YYYY-MM-DD or "
            "YYYY-MM-DD HH:MM:SS, the same layout on every row"
        )
    if isinstance(ds.dtype, pd.DatetimeTZDtype):
        ds = ds.dt.tz_localize(None)
    try:
        ds = ds.astype("datetime64[ns]")
    except (OverflowError, ValueError) as exc:  # "Out of bounds nanosecond timestamp: 1600-01-01 00:00:00"
        raise PanelError(_range_message(name, f"runs from {ds.min()} to {ds.max()}")) from exc
    if slashed_dates(values) and _month_jumps(ds):
        # 01/03/2026 00:00 ... 12/03/2026 23:00 (day first, every day 12 or less) read month-first is
        # hours of Jan 3, Feb 3, ..., Dec 3: read as the days that follow one another instead
        dayfirst = dayfirst_dates(values).astype("datetime64[ns]")
        if dayfirst.notna().sum() == ds.notna().sum() and not _month_jumps(dayfirst):
            return dayfirst
    return ds


def instants(values: pd.Series) -> pd.Series | None:
    """``values`` as UTC instants when every one says its zone or UTC offset (a tz-aware column, or
    texts ending in ``Z`` or ``+09:00``), else None: wall-clock times, with no zone to convert from.
    (:func:`parse_timestamps` keeps the wall clock as written; a caller that knows the zone the
    times are meant in converts these instants to it instead.)"""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return None
    text = values.astype("string").str.strip()
    written = text.dropna()
    if written.empty or not written.str.contains(_OFFSET, regex=True).all():
        return None
    try:
        return pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        return None


def _numeric_dates(values: pd.Series, name: str) -> pd.Series:
    """Whole numbers written as dates, as text ``parse_timestamps`` reads: ``YYYYMMDD``, ``YYYYMM``
    (202501: a month, read as its first day) and ``YYYY`` (2025: a year, read as January 1; yearly
    and monthly panels were "ds is numeric, not dates"); anything else a :class:`PanelError`.

    Year and week numbers (``YYYYWW``, 202514) are refused with the date to write instead (weeks 1-12
    were read as months without a word); a column that could be either (every value in one year,
    none past 12) is read as months with a warning. Years are read only within 200 years of one
    another (a step counter 1700..2261 became 562 years without a word), each read noted."""
    digits = values.dropna()
    whole = bool(len(digits)) and bool((digits == digits.round()).all())
    text = values.astype("Int64").astype(str).replace("<NA>", None) if whole else values
    if whole and digits.between(1000_01_01, 9999_12_31).all():
        return text
    part = digits % 100
    if whole and digits.between(1000_01, 2261_12).all() and part.between(1, 53).all():
        if part.max() > 12:
            raise PanelError(_weeks_message(name, int(digits[part > 12].iloc[0])))
        if (digits // 100).nunique() == 1:  # 202501..202510: ten months of 2025, or its first ten weeks
            log.warning(
                "%s.ds %d..%d read as months (YYYYMM: %d is %s-%s-01); if they are year and week numbers "
                "(YYYYWW), write each week's first day as YYYY-MM-DD instead", name, int(digits.min()),
                int(digits.max()), int(digits.min()), str(int(digits.min()))[:4], str(int(digits.min()))[4:],
            )
        return text.str[:4] + "-" + text.str[4:] + "-01"
    if whole and digits.between(1700, 2261).all() and digits.max() - digits.min() <= MAX_YEARS:
        log.info("%s.ds read as years (%d is %d-01-01)", name, int(digits.min()), int(digits.min()))
        return text + "-01-01"
    raise PanelError(
        f"{name}.ds is numeric (e.g. {values.dropna().head(1).tolist()}), not dates; write timestamps "
        "as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (or YYYYMMDD, YYYYMM for months, YYYY for years)"
    )


#: The most years apart whole-number ``ds`` read as years may be (:func:`_numeric_dates`).
MAX_YEARS = 200


def _weeks_message(name: str, example: int) -> str:
    year, week = divmod(example, 100)
    try:
        first = f" (ISO week {week} of {year} starts on Monday {dt.date.fromisocalendar(year, week, 1)})"
    except ValueError:  # week 53 of a year of 52
        first = ""
    return (
        f"{name}.ds looks like year and week numbers (YYYYWW, e.g. {example}), which are not read as dates: "
        f"write each week's first day as YYYY-MM-DD{first}, the same weekday in every row of a series"
    )


def _month_jumps(ds: pd.Series) -> bool:
    """Whether the distinct times ``ds`` step by less than a day somewhere and by 28 days or more
    elsewhere: hours of days a month apart, the mark of DD/MM/YYYY HH:MM read month-first."""
    gaps = pd.Series(ds.dropna().unique()).sort_values().diff().dropna()
    return bool(len(gaps)) and gaps.min() < pd.Timedelta(days=1) and gaps.max() >= pd.Timedelta(days=28)


def _range_message(name: str, what: str) -> str:
    return (f"{name}.ds {what}, outside {pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d}, the times "
            "pandas can hold; check the years in ds")


def _unreadable(value: object) -> str | None:
    """Why ``value`` is no time pandas can hold: ``"bad"`` (it reads as no time), ``"far"`` (outside
    the nanosecond range, 1677-09-21 to 2262-04-11: 1600-01-01, 2300-01-02), else None."""
    try:
        stamp = pd.Timestamp(str(value))
    except (ValueError, TypeError, OverflowError):
        return "bad"
    return None if pd.isna(stamp) or pd.Timestamp.min <= stamp <= pd.Timestamp.max else "far"  # "": missing


def _stripped(ids: pd.Series) -> pd.Series:
    """``ids`` without surrounding whitespace, stripping each distinct id once (a panel has
    far fewer ids than rows; the engine validates its panels many times a run)."""
    distinct = pd.unique(ids)
    stripped = [str(i).strip() for i in distinct]
    if all(a == b for a, b in zip(distinct, stripped, strict=True)):
        return ids
    return ids.map(dict(zip(distinct, stripped, strict=True)))


def slashed_dates(values: pd.Series) -> bool:
    """Whether ``values`` are texts such as ``02/03/2025`` (month or day first: ambiguous)."""
    if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return False
    return bool(values.dropna().astype(str).str.match(r"^\s*\d{1,2}/\d{1,2}/\d{4}").all())


def dayfirst_dates(values: pd.Series) -> pd.Series:
    """``DD/MM/YYYY[ time]`` texts as timestamps (NaT where they do not read so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(values, dayfirst=True, errors="coerce")


def covariate_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in (*KEYS, Y, MODEL)]


def future_index(panel: pd.DataFrame, horizon: int, freq: str) -> pd.DataFrame:
    """The ``unique_id, ds`` rows of the next ``horizon`` steps after each series' end."""
    last = panel.groupby(UNIQUE_ID, sort=False)[DS].max()
    if last.empty:
        return pd.DataFrame({UNIQUE_ID: [], DS: []})
    offset = pd.tseries.frequencies.to_offset(freq)
    ends = pd.DatetimeIndex(last.to_numpy()).as_unit("ns")
    distinct, which = np.unique(ends.asi8, return_inverse=True)  # one date range per end date
    try:
        steps = np.stack([
            pd.date_range(pd.Timestamp(end, unit="ns") + offset, periods=horizon, freq=offset).as_unit("ns").asi8
            for end in distinct
        ])
    except (OverflowError, ValueError) as exc:  # "Cannot generate range with start=9219830400000000000 ..."
        raise PanelError(
            f"the {horizon} steps of {freq} after the history's end ({pd.Timestamp(distinct.max(), unit='ns')}) "
            f"reach past {pd.Timestamp.max.date()}, the latest time pandas can hold; check the years in ds, or "
            "forecast fewer steps"
        ) from exc
    return pd.DataFrame({
        UNIQUE_ID: np.repeat(last.index.to_numpy(), horizon),
        DS: pd.DatetimeIndex(steps[which.ravel()].ravel()),
    })


def validate_future(future: pd.DataFrame, history: pd.DataFrame, horizon: int, freq: str) -> pd.DataFrame:
    """Check that ``future`` has one row per series and step of the horizon, and the
    same numeric covariates it promises; returns it aligned to :func:`future_index`."""
    raw = future
    expected = future_index(history, horizon, freq)
    aligned = _aligned_future(future, expected)
    if aligned is not None:
        return aligned
    future = validate_panel(future, name="future", require_target=False)
    if Y in future.columns:
        future = future.drop(columns=[Y])
    merged = expected.merge(future, on=KEYS, how="left", indicator=True)
    missing = merged["_merge"] == "left_only"
    if missing.any() and slashed_dates(raw[DS]):  # 02/03/2025 read as February 3 (US) in a short file
        try:
            dayfirst = validate_panel(raw.assign(**{DS: dayfirst_dates(raw[DS])}), name="future", require_target=False)
        except PanelError:  # not day-first either: the error below names the rows
            dayfirst = None
        if dayfirst is not None:
            retry = expected.merge(dayfirst.drop(columns=[Y], errors="ignore"), on=KEYS, how="left", indicator=True)
            if (retry["_merge"] == "both").all():
                merged, missing = retry, retry["_merge"] == "left_only"
    if missing.any():
        known = set(expected[UNIQUE_ID])
        strangers = sorted(set(future[UNIQUE_ID]) - known)
        hint = (
            f"; its ids {strangers[:5]} are not in the history (e.g. {sorted(known)[:5]}): ids must match as "
            "written (\"007\" is not \"7\", \"12\" is not \"12.0\")" if strangers else ""
        )
        raise PanelError(
            f"future lacks {int(missing.sum())} of the {len(expected)} (unique_id, ds) rows the horizon needs, "
            f"e.g. {_examples(merged, missing)}; give every series a row for each of the next {horizon} "
            f"steps at frequency {freq}{hint}"
        )
    merged = merged.drop(columns="_merge")
    covs = covariate_columns(merged)
    nan_cols = [c for c in covs if merged[c].isna().any()]
    if nan_cols:
        raise PanelError(
            f"future covariate(s) {nan_cols} have missing values; fill them (e.g. 0 for no promotion)"
        )
    return merged


def _aligned_future(future: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame | None:
    """What :func:`validate_future` returns, without its validation and merge, where ``future``
    already holds the rows of ``expected`` in its order (as the engine's backtest windows and
    validated futures do): ``ds`` as ``datetime64[ns]``, numeric covariates within
    :data:`MAX_ABS_VALUE`. None
    otherwise (the full check then says what is wrong)."""
    if not isinstance(future, pd.DataFrame) or len(future) != len(expected) or expected.empty:
        return None
    if UNIQUE_ID not in future.columns or DS not in future.columns or future.columns.duplicated().any():
        return None
    ds = future[DS]
    if not (isinstance(ds.dtype, np.dtype) and ds.dtype == np.dtype("datetime64[ns]")):
        return None
    covariates = [c for c in future.columns if c not in (*KEYS, Y)]
    for col in covariates:  # numpy numbers and flags only (a nullable column may hold NA)
        dtype = future[col].dtype
        if not (isinstance(dtype, np.dtype) and dtype.kind in "biuf"):
            return None
    values = future[covariates].to_numpy(dtype="float64") if covariates else np.empty((len(future), 0))
    if not (np.isfinite(values) & (np.abs(values) <= MAX_ABS_VALUE)).all():
        return None
    if not np.array_equal(ds.to_numpy(), expected[DS].to_numpy()):
        return None
    ids = future[UNIQUE_ID].to_numpy()
    if ids.dtype != object or not bool(np.all(ids == expected[UNIQUE_ID].to_numpy())):
        return None
    out = expected.copy()
    for j, col in enumerate(covariates):
        out[col] = values[:, j]
    return out


def select_model(forecast: pd.DataFrame, model: str | None = None) -> pd.DataFrame:
    """The rows of one model of a forecast frame: ``model``; else its only model; else the
    ensemble when it holds several; :class:`PanelError` when that does not decide."""
    if MODEL not in forecast.columns:
        return forecast
    models = sorted(forecast[MODEL].astype(str).unique())
    if model is None and len(models) > 1 and ENSEMBLE in models:
        model = ENSEMBLE
    if model is None:
        if len(models) > 1:
            raise PanelError(
                f"forecast holds {len(models)} models {models}; pass model=... to plan on one "
                f"(e.g. model={models[0]!r}; `fcplan plan --model {models[0]}` on a forecasts file)"
            )
        return forecast
    if model not in models:
        raise PanelError(f"forecast has no model {model!r}; it has {models}{_suggest_model(model, models)}")
    return forecast[forecast[MODEL].astype(str) == model]


def _suggest_model(model: str, models: list[str]) -> str:
    close = difflib.get_close_matches(model, models, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""The ``fcplan forecast`` and ``fcplan backtest`` commands (an exact contract).

``forecast --history H.csv [--future F.csv] --horizon N [--freq F]
[--quantiles 0.1,0.5,0.9] [--time-limit S] --out OUT.csv`` writes ``unique_id, ds``
then one column per requested quantile, headed by the level exactly as typed.

``backtest --history H.csv --horizon N [--windows K] [--out LEADERBOARD.csv]``
prints and writes the leaderboard (wQL, WAPE, MASE, coverage of the outer band and
of every central band, e.g. ``coverage_80`` for 0.1-0.9, per model and for the
ensemble), then the ensemble's band coverage against the nominal one.

``--select-features`` (both commands) first selects the known-ahead covariates of each
covariate-using model family by ablation on the backtest windows, prints the
score-contributor table (family, feature group, wQL with every group and without it,
contribution, kept) and writes it next to ``--out`` as ``<out>.features.csv``.

Bad input exits with status 1 and one paragraph saying how to fix it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from fcplan.app.console import fail
from fcplan.app.files import InputError, check_writable, read_csv, to_stdout, write_csv
from fcplan.core.panel import DS, UNIQUE_ID, PanelError
from fcplan.core.quantiles import parse_quantiles, quantile_name

log = logging.getLogger(__name__)

HISTORY_HELP = "CSV (or Parquet) with unique_id, ds, y, then numeric covariate columns"
OUT_FORMAT = "CSV (Parquet if it ends in .parquet; - for standard output)"
FUTURE_HELP = "CSV (or Parquet) with unique_id, ds for the next N steps of every series + covariates known in advance"


#: The registry's names as a user types them (tests/models/test_cli.py checks them against
#: ``fcplan.models.engine.MODELS``; importing the registry here would load every model at start).
MODELS_HELP = (
    "comma-separated model names: seasonal_naive, moving_average, tsb, ets, theta, sarimax, glm, lightgbm, "
    "lightgbm_recursive, mlp, tide, deepar. Default: all but lightgbm_recursive, less those that do not suit "
    "the data (each one left out is logged with the reason)"
)
TIME_LIMIT_HELP = (
    "seconds for the model search; models projected to exceed it are skipped (logged) and global "
    "models train at most their share of it. Default: none, the work is bounded by iterations and "
    "the data's size, so the same input gives the same forecast on any machine load"
)
WINDOWS_HELP = (
    "backtest windows used to weight the ensemble (default: 2; for monthly and quarterly data as many "
    "as the history leaves room for, up to 4)"
)
SELECT_HELP = (
    "select each covariate-using model's known-ahead covariates by ablation on the backtest windows; "
    "prints the score-contributor table and writes it next to --out as <out>.features.csv"
)


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    return read_csv(path, what, HISTORY_HELP if what == "history" else FUTURE_HELP)


def quantile_labels(text: str) -> dict[str, float]:
    """``"0.1,0.50"`` -> ``{"0.1": 0.1, "0.50": 0.5}`` (the user's text is the column name)."""
    levels = parse_quantiles(text)
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if len(set(levels)) != len(levels):
        raise InputError(f"--quantiles lists the same level twice ({text!r}); give each level once")
    return dict(zip(labels, levels, strict=True))


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("fcplan.models.baselines", "fcplan.models.backtest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def forecast_command(
    history: Annotated[Path, typer.Option("--history", help=HISTORY_HELP)],
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="number of steps to forecast")],
    out: Annotated[Path, typer.Option("--out", help=f"where to write the forecast {OUT_FORMAT}")],
    future: Annotated[Path | None, typer.Option("--future", help=FUTURE_HELP)] = None,
    freq: Annotated[
        str | None, typer.Option("--freq", help="pandas frequency (D, W-WED, h); inferred if omitted")
    ] = None,
    quantiles: Annotated[str, typer.Option("--quantiles", help="comma-separated levels")] = "0.1,0.5,0.9",
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help=TIME_LIMIT_HELP)
    ] = None,
    models: Annotated[str | None, typer.Option("--models", help=MODELS_HELP)] = None,
    windows: Annotated[
        int | None, typer.Option("--windows", min=1, help=WINDOWS_HELP)
    ] = None,
    holiday_country: Annotated[
        str | None, typer.Option("--holiday-country", help="ISO code, adds holiday flags")
    ] = None,
    select_features: Annotated[bool, typer.Option("--select-features", help=SELECT_HELP)] = False,
) -> None:
    """Forecast every series of the history; write unique_id, ds and one column per quantile."""
    from fcplan.models.engine import run_engine

    _setup_logging()
    try:
        labels = quantile_labels(quantiles)
        _check_options(out, time_limit, models, {"--history": history, "--future": future})
        hist = _read_csv(history, "history")
        fut = _read_csv(future, "future") if future is not None else None
        result = run_engine(
            hist,
            horizon,
            list(labels.values()),
            future=fut,
            freq=freq,
            windows=windows,
            time_limit_s=time_limit,
            holiday_country=holiday_country.strip().upper() if holiday_country else holiday_country,
            models=_model_names(models),
            select_features=select_features,
        )
    except (InputError, PanelError, ValueError, KeyError) as exc:
        raise fail(_message(exc)) from exc
    frame = result.forecast
    table = frame[[UNIQUE_ID, DS]].copy()
    for label, level in labels.items():
        table[label] = frame[quantile_name(level)].to_numpy()
    _write_csv(table, out)
    if select_features:
        _feature_table(result.feature_table, out)
    for uid, reason in result.fallbacks.items():
        typer.echo(f"fallback: series {uid!r}: {reason}", err=True)
    typer.echo(
        f"wrote {len(table)} rows for {table[UNIQUE_ID].nunique()} series to {_where(out)}; "
        f"ensemble weights {_weights(result.weights)}",
        err=to_stdout(out),  # not mixed into the CSV of `--out -`
    )


def backtest_command(
    history: Annotated[Path, typer.Option("--history", help=HISTORY_HELP)],
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="steps per backtest window")],
    windows: Annotated[int | None, typer.Option("--windows", min=1, help=WINDOWS_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help=f"where to write the leaderboard {OUT_FORMAT}")] = None,
    freq: Annotated[
        str | None, typer.Option("--freq", help="pandas frequency (D, W-WED, h); inferred if omitted")
    ] = None,
    quantiles: Annotated[str, typer.Option("--quantiles", help="comma-separated levels")] = "0.1,0.5,0.9",
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help=TIME_LIMIT_HELP)
    ] = None,
    models: Annotated[str | None, typer.Option("--models", help=MODELS_HELP)] = None,
    select_features: Annotated[bool, typer.Option("--select-features", help=SELECT_HELP)] = False,
) -> None:
    """Score every model and the ensemble on rolling windows; print (and write) the leaderboard."""
    from fcplan.models.engine import run_backtest

    _setup_logging()
    try:
        labels = quantile_labels(quantiles)
        _check_options(out, time_limit, models, {"--history": history})
        hist = _read_csv(history, "history")
        result = run_backtest(
            hist,
            horizon,
            list(labels.values()),
            freq=freq,
            windows=windows,
            time_limit_s=time_limit,
            models=_model_names(models),
            select_features=select_features,
        )
    except (InputError, PanelError, ValueError, KeyError) as exc:
        raise fail(_message(exc)) from exc
    if select_features:
        _feature_table(result.feature_table, out)
    board = result.leaderboard
    typer.echo(board.to_string(index=False, float_format=lambda v: f"{v:.4f}"), err=to_stdout(out))
    typer.echo(_coverage_line(board), err=to_stdout(out))
    if out is not None:
        _write_csv(board, out)


def _coverage_line(board: pd.DataFrame) -> str:
    """``ensemble coverage over the windows: 80% band 0.78, ...`` from the leaderboard's mean row."""
    mean = board[(board["model"] == "ensemble") & (board["window"] == "all")]
    bands = [c for c in board.columns if c.startswith("coverage_")]
    if mean.empty or not bands:
        return "ensemble coverage: no central band among the quantiles"
    row = mean.iloc[0]
    if not any(pd.notna(row[c]) for c in bands):  # ("80% band nan" before)
        return "ensemble coverage: not scored, the backtest windows hold no observed value of y (see the warning)"
    return "ensemble coverage over the windows: " + ", ".join(
        f"{c.removeprefix('coverage_')}% band {row[c]:.2f}" for c in bands
    )


def features_path(out: Path) -> Path:
    """Where ``--select-features`` writes its table: ``out.csv`` -> ``out.features.csv``."""
    return out.with_name(f"{out.stem}.features.csv")


def _feature_table(table: pd.DataFrame, out: Path | None) -> None:
    """Print the score-contributor table of ``--select-features`` (and write it next to ``out``); on
    standard error with ``--out -``, whose standard output is the leaderboard CSV."""
    err = to_stdout(out)
    if table.empty:
        typer.echo("feature selection: no covariate-using model or no known-ahead covariate; nothing selected",
                   err=err)
    else:
        typer.echo("feature selection (contribution = backtest wQL without the group - with every group):", err=err)
        typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), err=err)
    if out is not None and not to_stdout(out):
        _write_csv(table, features_path(out))


def _where(out: Path) -> str:
    return "standard output" if to_stdout(out) else str(out)


def _write_csv(frame: pd.DataFrame, out: Path) -> None:
    try:
        write_csv(frame, out)
    except InputError as exc:
        raise fail(str(exc)) from exc


def _check_options(
    out: Path | None, time_limit: float | None, models: str | None, inputs: dict[str, Path | None]
) -> None:
    """An :class:`InputError` for options that would fail or mislead only after the work:
    an ``--out`` that cannot be written or is one of the ``inputs``, a ``--time-limit`` that is not a positive number of
    seconds (-5 and nan were taken), ``--models`` with no name (it ran the baselines alone)."""
    if out is not None:
        check_writable(out, inputs)
    if time_limit is not None and not time_limit > 0:  # nan too; inf is no limit, as in run_engine
        raise InputError(f"--time-limit {time_limit:g} is not a number of seconds; give one above 0, or leave it out "
                         "to bound the work by iterations")
    if models is not None and not _model_names(models):
        raise InputError("--models names no model; list registry names such as ets,theta,lightgbm, or leave it out "
                         "for the default pool")


def _model_names(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _message(exc: Exception) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(str(text).split())


def _weights(weights: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.2f}" for k, v in weights.items() if v > 0)


def register(app: typer.Typer) -> None:
    """Add the ``forecast`` and ``backtest`` commands to the ``fcplan`` app."""
    app.command("forecast")(forecast_command)
    app.command("backtest")(backtest_command)

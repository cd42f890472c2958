"""Sub-commands that run one part of the pipeline each."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fcplan.app.console import (
    Verbose,
    broker_outage,
    check_forecast_models,
    database_outage,
    fail,
    setup,
)
from fcplan.app.files import to_stdout

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from fcplan.core.contracts import Record
    from fcplan.core.settings import KafkaSettings, Settings


def _publish(kafka: KafkaSettings, topic: str, records: list[tuple[str, Record]]) -> None:
    """Send records to a topic; a missing broker is a warning, not a failure:
    the database already holds the result."""
    from kafka.errors import KafkaError

    from fcplan.streams.producer import JsonProducer

    servers = kafka.servers
    try:
        with JsonProducer(servers, client_id=f"fcplan-{topic}", connect_timeout_s=kafka.connect_timeout_s) as producer:
            producer.send_many(topic, records)
    except (KafkaError, OSError) as exc:
        typer.echo(f"warning: could not publish to {topic} on {servers}: {exc}", err=True)


def simulate(
    centers: Annotated[int, typer.Option(min=1, help="Number of simulated centers.")] = 5,
    days: Annotated[int, typer.Option(min=0, help="Days of history to backfill, as fast as possible.")] = 120,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second once live.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    scale: Annotated[float, typer.Option(help="Multiplies every center's order volume.")] = 1.0,
    live: Annotated[bool, typer.Option(help="Keep sending new orders after the backfill.")] = True,
    shift: Annotated[
        list[str] | None,
        typer.Option(help="Change a center's demand from a local time on, e.g. FC-BUSAN:+40%@2026-03-10T14:00."),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Send realistic orders and promotions for simulated centers to Kafka."""
    from fcplan.app.loop import shifts_from_specs
    from fcplan.app.simulate import SimulationConfig, Simulator
    from fcplan.app.simulated_centers import simulation_locales
    from fcplan.storage import make_engine

    settings = setup(verbose)
    _check_simulation(scale, speed)
    try:
        locales = simulation_locales(settings)
        shifts = shifts_from_specs(shift or [], settings.timezone, locales)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if speed > 1 and settings.streams.max_future_hours < 24:
        typer.echo(
            "note: at --speed > 1 the simulated clock runs ahead of the wall clock; the worker rejects orders "
            f"more than FCPLAN_STREAMS_MAX_FUTURE_HOURS={settings.streams.max_future_hours:g} h ahead",
            err=True,
        )
    cfg = SimulationConfig(
        centers=centers, days=days, speed=speed, seed=seed, scale=scale, tz=settings.timezone, shifts=shifts,
        locales=locales,
    )
    from fcplan.streams.producer import JsonProducer

    with database_outage(settings.database.url, "simulate"):
        sim = Simulator(cfg, settings.kafka.servers, make_engine(settings.database.url))
    with (
        broker_outage(settings.kafka.servers, "simulate"),
        JsonProducer(
            settings.kafka.servers, client_id="fcplan-simulator", connect_timeout_s=settings.kafka.connect_timeout_s
        ) as producer,
    ):
        with database_outage(settings.database.url, "simulate"):
            n = sim.backfill(producer)
        print(json.dumps({"backfilled_orders": n, "promotion_events": sim.sent_promotions}), flush=True)
        if live:
            with contextlib.suppress(KeyboardInterrupt):
                sim.live(producer)


def replay(
    file: Annotated[Path, typer.Argument(help="CSV (or .csv.gz) with order_id, ts, lines, units and a center column.")],
    center_column: Annotated[str, typer.Option(help="Column that names the center (e.g. region).")] = "center_id",
    timezone: Annotated[str | None, typer.Option(help="Zone of naive timestamps (default FCPLAN_TIMEZONE).")] = None,
    verbose: Verbose = False,
) -> None:
    """Replay a real order file onto the orders topic."""
    from fcplan.streams.replay import ReplayError
    from fcplan.streams.replay import replay as run_replay

    settings = setup(verbose)
    try:
        with broker_outage(settings.kafka.servers, "replay"):
            n = run_replay(
                file, center_column, timezone or settings.timezone, settings.kafka.servers,
                settings.kafka.connect_timeout_s,
            )
    except ReplayError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"sent {n} orders from {file.name}")


def _run_step(
    name: str,
    step: Callable[[Settings, Engine], tuple[str | None, str]],
    topic: str,
    records: Callable[[Engine, str], list[tuple[str, Record]]],
    publish: bool,
    verbose: bool,
) -> None:
    """Run a stored step (retrain, plan); exit 3 when it had nothing to work on, 4 when
    the database is unavailable."""
    from fcplan.storage import make_engine

    settings = setup(verbose)
    with database_outage(settings.database.url, name):
        engine = make_engine(settings.database.url)
        try:
            result_id, message = step(settings, engine)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        typer.echo(message)
        if result_id is None:
            raise typer.Exit(3)
        if publish:
            _publish(settings.kafka, topic, records(engine, result_id))


def retrain(
    publish: Annotated[bool, typer.Option(help="Publish the forecast to the forecasts topic.")] = True,
    verbose: Verbose = False,
) -> None:
    """Refit the forecast ensemble on the stored daily orders and store a forecast run."""
    from fcplan.core.contracts import FORECAST_ALERTS, FORECASTS
    from fcplan.models.retrain import forecast_records
    from fcplan.models.retrain import retrain as run_retrain
    from fcplan.planner.centers import configured_centers, configured_locales

    alerts: list[tuple[str, dict]] = []

    def step(settings: Settings, engine: Engine) -> tuple[str | None, str]:
        check_forecast_models(settings.forecast.models)
        result = run_retrain(engine, settings.forecast, settings.timezone, locales=configured_locales(settings),
                             closed=configured_centers(settings).closed_on)
        alerts.extend((a["center_id"], a) for a in result.alerts)
        if alerts and publish:
            _publish(settings.kafka, FORECAST_ALERTS, alerts)
        return result.run_id, result.message

    _run_step("retrain", step, FORECASTS, forecast_records, publish, verbose)


def plan(
    publish: Annotated[bool, typer.Option(help="Publish the plan to the staffing-plans topic.")] = True,
    forecasts: Annotated[Path | None, typer.Option(
        "--forecasts", help="Plan on a `fcplan forecast` CSV instead of the database (needs --out).")] = None,
    centers: Annotated[Path | None, typer.Option(
        "--centers", help="Centers TOML file (default FCPLAN_PLANNER_CENTERS_FILE, else FCPLAN_PLANNER_*).")] = None,
    hourly: Annotated[Path | None, typer.Option(
        "--hourly", help="With --forecasts: CSV of unique_id, ds (local hour), y; learns each center's hours.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="With --forecasts: where to write the plan CSV (- for standard output).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="With --forecasts: the model to plan on when the file's model column holds several "
                        "(default: ensemble).")] = None,
    verbose: Verbose = False,
) -> None:
    """Turn the newest forecast (or a forecast file) into packers per center, day and shift."""
    from fcplan.core.contracts import STAFFING_PLANS
    from fcplan.planner.centers import configured_centers
    from fcplan.planner.runner import make_plan, plan_records

    if forecasts is not None or out is not None or hourly is not None or model is not None:
        from fcplan.app.plan_offline import write_offline_plan

        settings = setup(verbose)
        if forecasts is None or out is None:
            # `plan --model ets` alone (the database's newest forecast on one model) was told only that
            # --forecasts and --out go together
            offline = [o for o, v in (("--hourly", hourly), ("--model", model)) if v is not None]
            extra = f"{' and '.join(offline)} go(es) with the offline plan of a forecasts file; " if offline else ""
            raise fail(f"{extra}--forecasts and --out go together: "
                       "fcplan plan --forecasts F.csv --centers C.toml --out plan.csv")
        try:
            conf = configured_centers(settings, centers)
            typer.echo(write_offline_plan(forecasts, conf, out, hourly, model), err=to_stdout(out))
        except ValueError as exc:
            raise fail(str(exc)) from exc
        return

    def step(settings: Settings, engine: Engine) -> tuple[str | None, str]:
        result = make_plan(engine, settings.planner, settings.timezone, centers=configured_centers(settings, centers))
        return result.plan_id, result.message

    _run_step("plan", step, STAFFING_PLANS, plan_records, publish, verbose)


#: The live demo's days of history (``fcplan demo --days``); the simulated loop's are LoopConfig's.
DEMO_HISTORY_DAYS = 120

#: The dashboard's --port, for ``fcplan dashboard`` and ``fcplan demo``.
DashboardPort = Annotated[int | None, typer.Option(
    min=1, max=65535, help="Dashboard port (default 8501, or a free one when 8501 is taken).")]


def dashboard(port: DashboardPort = None, verbose: Verbose = False) -> None:
    """Open the Streamlit operations dashboard (reads the database only)."""
    from fcplan.app.broker import PortTaken
    from fcplan.app.dashboard_server import DashboardStartError, dashboard_command, start
    from fcplan.app.procs import spawn

    setup(verbose)
    try:
        proc, _ = start(lambda p: spawn(dashboard_command(p)), port)
    except (PortTaken, DashboardStartError) as exc:
        raise fail(str(exc)) from None
    with proc:
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # Streamlit got the same Ctrl-C: let it finish
            code = proc.wait()
    raise typer.Exit(code)


def demo(
    ctx: typer.Context,
    headless: Annotated[bool, typer.Option(help="No dashboard.")] = False,
    exit_after_plan: Annotated[bool, typer.Option(help="Exit 0 once the first plan is stored.")] = False,
    centers: Annotated[int, typer.Option(min=1, help="Simulated centers.")] = 5,
    days: Annotated[int | None, typer.Option(
        min=0, help="Days of history to backfill (default 120; with --simulate-days 56).")] = None,
    scale: Annotated[float, typer.Option(help="Order volume multiplier.")] = 0.5,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second once live.")] = 1.0,
    retrain_every: Annotated[float, typer.Option(help="Seconds between retrain+plan cycles.")] = 120.0,
    port: DashboardPort = None,
    fresh: Annotated[bool | None, typer.Option(help="Empty the database first (default: yes for SQLite).")] = None,
    timeout: Annotated[float, typer.Option(help="With --exit-after-plan: give up after this many seconds.")] = 900,
    centers_file: Annotated[Path | None, typer.Option(
        help="Centers TOML to plan with (default: FCPLAN_PLANNER_CENTERS_FILE, else centers.example.toml).")] = None,
    simulate_days: Annotated[
        int | None,
        typer.Option(
            min=1, help="Run the loop in simulated time for this many days (headless, no broker); see fcplan.app.loop."
        ),
    ] = None,
    shift: Annotated[
        list[str] | None,
        typer.Option(help="With --simulate-days: inject a demand shift, e.g. FC-BUSAN:+40%@2026-03-10"),
    ] = None,
    start: Annotated[str | None, typer.Option(help="With --simulate-days: the first simulated day.")] = None,
    retrain_at: Annotated[
        str | None, typer.Option(help="With --simulate-days: local time of the daily retrain (default 04:00).")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run everything: broker, worker, simulator, periodic retrain and plan, dashboard."""
    from fcplan.app.broker import BrokerError
    from fcplan.app.demo import EXAMPLE_CENTERS, Demo, DemoConfig, DemoError

    settings = setup(verbose)
    _check_simulation(scale, speed)
    for name, value in (("--retrain-every", retrain_every), ("--timeout", timeout)):
        if not 0 < value < float("inf"):  # 0 retrained without a pause; -1 gave up before the backfill
            raise fail(f"{name} {value:g} must be a positive number of seconds, e.g. {name} 120")
    given = [name for name, value in (("--shift", shift), ("--start", start), ("--retrain-at", retrain_at)) if value]
    if simulate_days is None and given:  # the live demo ran for good without them, without a word
        raise fail(f"{', '.join(given)} go(es) with --simulate-days N (the loop in simulated time); add it, e.g. "
                   "--simulate-days 60, or leave them out for the live demo")
    live_only = [f"--{name.replace('_', '-')}" for name in ("exit_after_plan", "retrain_every", "timeout", "port")
                 if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]  # typer's own click
    if simulate_days is not None and live_only:  # the loop ran without them, without a word
        raise fail(f"{', '.join(live_only)} go(es) with the live demo, not with --simulate-days (the loop retrains "
                   "daily at --retrain-at and on alerts, has no dashboard, and exits with its summary); leave "
                   f"{'it' if len(live_only) == 1 else 'them'} out")
    if simulate_days is not None:
        check_forecast_models(settings.forecast.models)  # the loop retrains in this process, day after day
        if centers_file is None and not settings.planner.centers_file and EXAMPLE_CENTERS.is_file():
            centers_file = EXAMPLE_CENTERS  # as the live demo: two zones, overnight shifts
        if centers_file is not None:  # the simulated loop plans in this process, not in a child
            from fcplan.planner.centers import load_centers

            try:
                load_centers(centers_file)  # a bad file is refused now, not at the first plan
            except ValueError as exc:
                raise fail(str(exc)) from exc
            planner = settings.planner.model_copy(update={"centers_file": str(centers_file)})
            settings = settings.model_copy(update={"planner": planner})
        _simulated_demo(
            settings, simulate_days, speed, centers, scale, shift or [], start, fresh, retrain_at or "04:00",
            history_days=days,  # the loop's 56 days by default (--days was dropped here without a word)
        )
        return
    cfg = DemoConfig(
        headless=headless,
        exit_after_plan=exit_after_plan,
        centers=centers,
        days=DEMO_HISTORY_DAYS if days is None else days,
        scale=scale,
        speed=speed,
        retrain_every_s=retrain_every,
        port=port,
        fresh=fresh,
        timeout_s=timeout,
        centers_file=centers_file or (EXAMPLE_CENTERS if EXAMPLE_CENTERS.is_file() else None),
    )
    try:
        code = Demo(settings, cfg).run()
    except (DemoError, BrokerError) as exc:
        raise fail(str(exc)) from exc
    sys.exit(code)


def _simulated_demo(
    settings: Settings,
    days: int,
    speed: float,
    centers: int,
    scale: float,
    shifts: list[str],
    start: str | None,
    fresh: bool | None,
    retrain_at: str = "04:00",
    history_days: int | None = None,
) -> None:
    from datetime import time

    import pandas as pd

    from fcplan.app.loop import LoopConfig, run_simulated_loop, shifts_from_specs
    from fcplan.app.simulated_centers import simulation_locales
    from fcplan.core.settings import ForecastSettings
    from fcplan.storage import make_engine, reset

    try:
        parsed = shifts_from_specs(shifts, settings.timezone, simulation_locales(settings))
        first = pd.Timestamp(start or pd.Timestamp.now(tz=settings.timezone).date()).tz_localize(settings.timezone)
        if not 1971 <= first.year <= 2199:  # 9999-12-31 ran past the last date Python holds (a traceback)
            raise ValueError(f"--start {start} is outside the years 1971 to 2199")
        at = time.fromisoformat(retrain_at)
    except ValueError as exc:
        raise fail(f"{exc} (--start is a day such as 2026-03-02, --retrain-at a local time such as 04:00)") from exc
    engine = make_engine(settings.database.url)
    if fresh if fresh is not None else settings.database.url.startswith("sqlite"):
        reset(engine)
    # FCPLAN_FORECAST_MODELS was checked (above) and then ignored without a word: a pool set there is
    # the one fitted; the default pool gives way to the loop's light one (a retrain a simulated day).
    default_pool = ForecastSettings.model_fields["models"].default
    pool = {} if tuple(settings.forecast.models) == tuple(default_pool) else {"models": tuple(settings.forecast.models)}
    cfg = LoopConfig(
        days=days, speed=speed if speed > 1 else 0.0, centers=centers, scale=scale, start=first.to_pydatetime(),
        shifts=parsed,
        retrain_at=at,
        **({} if history_days is None else {"history_days": history_days}),
        **pool,
    )
    print(f"[fcplan demo] retrains fit {','.join(cfg.models)}"
          + ("" if pool else " (a light pool; set FCPLAN_FORECAST_MODELS for another)"), flush=True)
    summary = run_simulated_loop(settings, engine, cfg, say=lambda m: print(f"[fcplan demo] {m}", flush=True))
    print(json.dumps(summary.as_dict()), flush=True)


def _check_simulation(scale: float, speed: float) -> None:
    """--scale and --speed must be positive numbers (0 or less raised a bare ValueError in the
    simulator, or ran the live loop without a clock)."""
    for name, value in (("--scale", scale), ("--speed", speed)):
        if not value > 0 or value == float("inf"):
            raise fail(f"{name} {value:g} must be a positive number, e.g. {name} 1")


def register(app: typer.Typer) -> None:
    for command in (simulate, replay, retrain, plan, dashboard, demo):
        app.command()(command)

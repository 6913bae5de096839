"""Benchmark fireup's rendered projects against a raw Starlette + asyncpg baseline.

Renders the default (SQLite) project and a PostgreSQL one from the template's working tree,
installs and boots each as in production (one worker, its access log on, and the PostgreSQL one
once more without it), seeds data through the API, drives load with wrk on 127.0.0.1 in
interleaved rounds (figures are their medians) and writes
bench/results/{results.json,results.md,ratios.png}. The baseline's handlers also run as bare
FastAPI routes (the floor), which tells the framework's cost from the project's. The PostgreSQL
project's live feed is measured too: its writes with and without 100 WebSocket subscribers, and
the events they receive. Reports figures; asserts none. Run from the repository root:

    uv run --project bench bench/run.py [--seconds 5] [--rounds 3] [--feed-only]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import report
from load import run_load
from profiling import py_spy, summarize
from scenarios import (
    FEED,
    FEED_RESOURCE,
    Credentials,
    Fixture,
    Options,
    Scenario,
    changes_feed,
    login,
    scenarios,
    seed,
)
from servers import Server, ServerSpec, Watch, measure_boots, serve
from subscribers import Subscribers
from workspace import (
    BENCH,
    Project,
    base_env,
    install,
    one_file_template,
    postgres_database,
    prestart,
    render,
    run_tests,
    sessions_opened,
    snapshot_template,
    update_in_place,
)

NAME = "Bench Api"
SLUG = "bench_api"
PROFILED = ("get_by_id", "list_100", "create")
PROFILE_RATE = 200
# Copies of each template timed for copier's figures (medians).
COPIES = 3


@dataclass(frozen=True)
class Settings:
    seconds: float
    warmup: float
    rounds: int
    boots: int
    profile_seconds: float
    options: Options
    results: Path
    feed_only: bool  # the PostgreSQL project and its live feed alone: a quick look at the feed


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every scenario (medians)")
    parser.add_argument("--connections", type=int, default=16, help="connections per scenario")
    parser.add_argument("--logins", type=int, default=32, help="concurrent logins in login storms")
    parser.add_argument("--rows", type=int, default=150, help="books seeded per user")
    parser.add_argument("--subscribers", type=int, default=100, help="live feed sockets")
    parser.add_argument("--boots", type=int, default=3, help="boots timed for cold start")
    parser.add_argument("--profile-seconds", type=float, default=5, help="0 skips profiling")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--feed-only",
        action="store_true",
        help="render and serve only the PostgreSQL project and run only the changes_feed scenario",
    )
    args = parser.parse_args(argv)
    return Settings(
        args.seconds,
        args.warmup,
        args.rounds,
        args.boots,
        args.profile_seconds,
        Options(args.connections, args.logins, args.rows, args.subscribers),
        args.results,
        args.feed_only,
    )


def main() -> None:
    settings = parse_args()
    settings.results.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fireup-bench-") as work:
        figures = bench(Path(work), settings)
    outputs = "results.{json,md}"
    if not settings.feed_only:
        figures["ratios"] = report.ratios(figures)
        figures["cpu_ratios"] = report.cpu_ratios(figures)
        figures["goals"] = [
            {"goal": goal.name, "measured": goal.measured, "limit": goal.limit, "met": goal.met}
            for goal in report.goals(figures)
        ]
        report.chart(figures, settings.results / "ratios.png")
        outputs += " and ratios.png"
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    table = report.markdown(figures)
    (settings.results / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    (settings.results / "results.md").write_text(table + "\n")
    print(table)
    print(f"\nWrote {settings.results}/{outputs} in {figures['bench_seconds']} s")


def bench(work: Path, settings: Settings) -> dict[str, Any]:
    template = snapshot_template(_mkdir(work / "template"))
    sqlite = Project(work / "sqlite", SLUG)
    tooling = {} if settings.feed_only else default_project_tooling(template, sqlite)
    logs = _mkdir(settings.results / "logs")
    for old in logs.glob("*.log"):
        old.unlink()
    with postgres_database() as database_url:
        postgresql = Project(work / "postgresql", SLUG, database_url)
        answers = {"project_name": NAME, "database": "postgresql"}
        tooling["copier_copy_postgresql_seconds"] = render(template, postgresql.path, answers)
        tooling["install_postgresql_seconds"] = install(postgresql)
        tooling["prestart_postgresql_seconds"] = prestart(postgresql)
        fixture = _seeder(postgresql, settings)
        # The feed's subscribers are one user: room for them all, and for the sockets of the
        # round before that the server may still be closing.
        sockets = str(2 * settings.options.subscribers)
        feed_spec = _rendered_spec(report.FEED_TARGET, postgresql, CHANGES_SOCKETS_PER_USER=sockets)
        targets = [Target(feed_spec, fixture)]
        if not settings.feed_only:
            targets += [
                Target(_baseline_spec(postgresql), fixture),
                Target(_baseline_spec(postgresql, floor=True), fixture),
                Target(_rendered_spec("sqlite", sqlite), _seeder(sqlite, settings)),
                # The same project and data, without its access log: what the log line costs.
                Target(_rendered_spec(report.QUIET, postgresql, ACCESS_LOG="false"), fixture),
            ]
        figures, profiles = bench_targets(targets, settings, logs)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "settings": {
            "seconds": settings.seconds,
            "warmup": settings.warmup,
            "rounds": settings.rounds,
            "feed_only": settings.feed_only,
            **settings.options.__dict__,
        },
        "tooling": {key: _round(value) for key, value in tooling.items()},
        "targets": figures,
        "profiles": profiles,
    }


def default_project_tooling(template: Path, project: Project) -> dict[str, Any]:
    """Render, update, install, migrate and test the default project, timing each step."""
    tooling: dict[str, Any] = copier_copy_seconds(template, project.path)
    tooling["copier_update_seconds"], tooling["update_conflicts"] = update_in_place(project)
    tooling["install_seconds"] = install(project)
    tooling["prestart_seconds"] = prestart(project)
    tooling["tests_seconds"] = {"first": run_tests(project), "warm": run_tests(project)}
    return tooling


def copier_copy_seconds(template: Path, dest: Path) -> dict[str, float]:
    """`copier copy` of the default project and of a one-file template, side by side: the
    median of COPIES each, taken in turns; the default project is left at `dest`."""
    one_file = one_file_template(_mkdir(dest.parent / "one-file-template"))
    default, alone = [], []
    for turn in range(COPIES):
        copy = dest if turn == COPIES - 1 else dest.parent / f"copy-{turn}"
        default.append(render(template, copy, {"project_name": NAME}))
        alone.append(render(one_file, dest.parent / f"one-file-{turn}", {"project_name": NAME}))
    return {
        "copier_copy_seconds": statistics.median(default),
        "copier_copy_one_file_seconds": statistics.median(alone),
    }


FixtureSource = Callable[[str], Fixture]


@dataclass(frozen=True)
class Target:
    spec: ServerSpec
    fixtures: FixtureSource  # seeds through the server at this base URL, or reuses a seeding


def _seeder(project: Project, settings: Settings) -> FixtureSource:
    """Seeds the project through the first server that asks, then hands out that data again.

    The baseline shares the PostgreSQL project's database, so it reuses that project's seeding.
    """
    dotenv = project.dotenv()
    superuser = Credentials(dotenv["FIRST_SUPERUSER_EMAIL"], dotenv["FIRST_SUPERUSER_PASSWORD"])
    made: list[Fixture] = []

    def source(base_url: str) -> Fixture:
        if not made:
            made.append(seed(base_url, superuser, settings.options.rows))
        return made[0]

    return source


def _rendered_spec(name: str, project: Project, **settings: str) -> ServerSpec:
    command = [str(project.bin / project.slug), "serve"]
    return ServerSpec(name, command, project.path, {**project.env(), **settings})


def _baseline_spec(project: Project, *, floor: bool = False) -> ServerSpec:
    factory = "baseline:create_floor_app" if floor else "baseline:create_app"
    uvicorn = [sys.executable, "-m", "uvicorn", factory, "--factory"]
    options = ["--host", "127.0.0.1", "--workers", "1", "--no-access-log"]
    env = {
        **base_env(),
        "DATABASE_URL": project.database_url or "",
        "SECRET_KEY": project.dotenv()["SECRET_KEY"],
    }
    name = report.FLOOR if floor else report.BASELINE
    return ServerSpec(name, uvicorn + options, BENCH, env)


def bench_targets(
    targets: list[Target], settings: Settings, logs: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Boot figures of each server, then every scenario on each server in turn, in rounds.

    All servers stay up together and take turns scenario by scenario, so that other work on the
    machine weighs on every server alike; an idle server costs the others nothing. Each round
    ends with the live feed's scenario on the PostgreSQL project. Each figure is the median of
    its rounds.
    """
    figures: dict[str, Any] = {}
    for target in targets:
        log = logs / f"{target.spec.name}.log"
        boot = measure_boots(target.spec, log, settings.boots)
        figures[target.spec.name] = {"boot": boot.__dict__, "scenarios": {}}
        print(
            f"[{target.spec.name}] cold start {boot.cold_start_seconds:.2f} s, "
            f"idle RSS {boot.idle_rss_mib:.0f} MiB",
            flush=True,
        )
    with ExitStack() as stack:
        servers = [
            stack.enter_context(serve(target.spec, logs / f"{target.spec.name}.log"))
            for target in targets
        ]
        plans = [
            _plan(server, target, settings)
            for server, target in zip(servers, targets, strict=True)
            if not settings.feed_only
        ]
        feed_server, feed_target = next(
            (server, target)
            for server, target in zip(servers, targets, strict=True)
            if server.spec.name == report.FEED_TARGET
        )
        rounds: dict[tuple[str, str], list[dict[str, Any]]] = {}
        feed_rounds: list[dict[str, Any]] = []
        for number in range(1, settings.rounds + 1):
            print(f"round {number} of {settings.rounds}", flush=True)
            for turn in zip(*plans, strict=True):
                for server, scenario in zip(servers, turn, strict=True):
                    measured = run_scenario(server, scenario, settings)
                    rounds.setdefault((server.spec.name, scenario.name), []).append(measured)
            fixture = feed_target.fixtures(feed_server.base_url)
            feed_rounds.append(measure_feed(feed_server, fixture, settings, logs))
        for (server_name, scenario_name), measured_rounds in rounds.items():
            figures[server_name]["scenarios"][scenario_name] = _median(measured_rounds)
        figures[report.FEED_TARGET][FEED] = _median(feed_rounds)
        profiles = _profile(servers[0], plans[0], settings) if plans else {}
    return figures, profiles


def _plan(server: Server, target: Target, settings: Settings) -> list[Scenario]:
    fixture = target.fixtures(server.base_url)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        tokens = login(client, fixture.reader), login(client, fixture.writer)
    return scenarios(fixture, *tokens, settings.options)


def run_scenario(server: Server, scenario: Scenario, settings: Settings) -> dict[str, Any]:
    """Warm the server up on the scenario, then measure it."""
    if settings.warmup:
        run_load(server.base_url, list(scenario.streams), settings.warmup)
    figures = measure(server, scenario, settings)
    _print_scenario(server.spec.name, scenario.name, figures)
    return figures


def measure(server: Server, scenario: Scenario, settings: Settings) -> dict[str, Any]:
    """Figures of every stream, and the server's peak RSS, CPU and new database sessions."""
    streams = list(scenario.streams)
    database_url = server.spec.env.get("DATABASE_URL", "")
    postgres = database_url.startswith("postgresql")
    sessions_before = sessions_opened(database_url) if postgres else 0
    with Watch(server) as watch:
        results = run_load(server.base_url, streams, settings.seconds)
    figures: dict[str, Any] = {name: result.summary() for name, result in results.items()}
    requests = max(sum(result.answered for result in results.values()), 1)
    figures["peak_rss_mib"] = round(watch.peak_mib, 1)
    figures["cpu_ms_per_request"] = round(watch.cpu_seconds * 1000 / requests, 2)
    figures["cpu_cores_busy"] = round(watch.cpu_seconds / settings.seconds, 2)
    if postgres:
        # Less the one this count itself opens.
        opened = sessions_opened(database_url) - sessions_before - 1
        figures["db_sessions_opened_per_request"] = round(opened / requests, 3)
    return figures


def measure_feed(
    server: Server, fixture: Fixture, settings: Settings, logs: Path
) -> dict[str, Any]:
    """The create stream alone, then again while the superuser's sockets follow the live feed.

    The two windows run back to back on one server, so that both write rates meet the same
    machine. The subscribers connect between them (uncounted) and keep counting after the
    second until the events of its last writes have arrived.
    """
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        # Fresh tokens each round: an access token outlives a round, not a whole bench.
        writer, superuser = login(client, fixture.writer), login(client, fixture.superuser)
        writes = changes_feed(writer, settings.options)
        if settings.warmup:
            run_load(server.base_url, list(writes.streams), settings.warmup)
        alone = measure(server, writes, settings)
        url = server.base_url.replace("http://", "ws://", 1) + "/changes"
        count, log = settings.options.subscribers, logs / "subscribers.log"
        with Subscribers(url, superuser, FEED_RESOURCE, count, log) as subscribers:
            rows_before = _row_total(client, writer)
            subscribers.start()
            beside = measure(server, writes, settings)
            delivery = subscribers.stop()
            rows_created = _row_total(client, writer) - rows_before
    rates = alone["main"]["requests_per_second"], beside["main"]["requests_per_second"]
    figures = {
        "without_subscribers": alone,
        "with_subscribers": beside,
        "write_rate_with_over_without": round(rates[1] / max(rates[0], 1e-9), 3),
        "delivery": delivery.summary(rows_created),
    }
    _print_feed(server.spec.name, figures)
    return figures


def _row_total(client: httpx.Client, token: str) -> int:
    """How many books the user owns, as the API counts them."""
    response = client.get(
        f"/{FEED_RESOURCE}", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    total: int = response.json()["total"]
    return total


def _print_scenario(server: str, scenario: str, figures: dict[str, Any]) -> None:
    main = figures["main"]
    print(
        f"[{server}] {scenario}: {main['requests_per_second']} req/s, p50 {main['p50_ms']} ms, "
        f"p99 {main['p99_ms']} ms, errors {main['errors']}, peak RSS {figures['peak_rss_mib']} "
        f"MiB, CPU {figures['cpu_ms_per_request']} ms/request",
        flush=True,
    )


def _print_feed(server: str, figures: dict[str, Any]) -> None:
    alone, beside = figures["without_subscribers"]["main"], figures["with_subscribers"]["main"]
    delivery = figures["delivery"]
    print(
        f"[{server}] {FEED}: writes {alone['requests_per_second']} req/s alone, "
        f"{beside['requests_per_second']} req/s with {delivery['subscribers']} subscribers "
        f"({figures['write_rate_with_over_without']}x, errors {beside['errors']}); "
        f"{delivery['events_per_second']} events/s delivered "
        f"({delivery['events_per_second_per_subscriber']} per subscriber), each received "
        f"at least {delivery['fraction_received_min']} of {delivery['rows_created']} rows, "
        f"lag p50 {delivery['lag_p50_ms']} ms p99 {delivery['lag_p99_ms']} ms, "
        f"{delivery['subscribers_closed_by_server']} closed by the server, "
        f"subscribers' CPU {delivery['client_cpu_cores_busy']} cores",
        flush=True,
    )


def _profile(server: Server, plan: list[Scenario], settings: Settings) -> dict[str, Any]:
    """py-spy the server while it serves the profiled scenarios again."""
    if not settings.profile_seconds:
        return {}
    profiles = {}
    for scenario in (scenario for scenario in plan if scenario.name in PROFILED):
        collapsed = settings.results / f"profile-{server.spec.name}-{scenario.name}.txt"
        with py_spy(server.pid, collapsed, settings.profile_seconds, PROFILE_RATE):
            run_load(server.base_url, list(scenario.streams), settings.profile_seconds)
        expected = round(PROFILE_RATE * settings.profile_seconds)
        profile = summarize(collapsed, SLUG, expected)
        print(f"[{server.spec.name}] profile {scenario.name}: {profile.headline()}", flush=True)
        profiles[scenario.name] = profile.as_dict()
    return profiles


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds, stream by stream."""
    first = rounds[0]
    return {
        key: _median([measured[key] for measured in rounds])
        if isinstance(value, dict)
        else round(statistics.median(measured[key] for measured in rounds), 3)
        for key, value in first.items()
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    return value


if __name__ == "__main__":
    main()

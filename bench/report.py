"""Turn raw figures into ratios, goal checks, a markdown report and a PNG chart."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from profiling import ROOTS
from scenarios import FEED

RENDERED = ("postgresql", "sqlite")
BASELINE = "baseline"
# The baseline's handlers as bare FastAPI routes: what the framework alone adds.
FLOOR = "floor"
# The PostgreSQL project again, with ACCESS_LOG=false.
QUIET = "postgresql-no-access-log"
# The server whose live feed the changes_feed scenario measures.
FEED_TARGET = "postgresql"
SCENARIOS = (
    "health",
    "get_by_id",
    "list_100",
    "update",
    "create",
    "login",
    "list_under_login_storm",
)

Figures = dict[str, Any]


@dataclass(frozen=True)
class Goal:
    name: str
    measured: float
    limit: float
    at_least: bool  # True: measured >= limit is met; False: measured < limit is met
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured < self.limit

    def row(self) -> str:
        sign = ">=" if self.at_least else "<"
        verdict = "met" if self.met else "**missed**"
        return (
            f"| {self.name} | {self.measured:.2f}{self.unit} | {sign} {self.limit:g}{self.unit} "
            f"| {verdict} |"
        )


def ratios(figures: Figures) -> dict[str, dict[str, float]]:
    """Requests/s of each rendered project over the baseline's, scenario by scenario."""
    base = figures["targets"][BASELINE]["scenarios"]
    return {
        target: {
            name: round(_rps(figures, target, name) / base[name]["main"]["requests_per_second"], 3)
            for name in SCENARIOS
            if base[name]["main"]["requests_per_second"]
        }
        for target in RENDERED
    }


def cpu_ratios(figures: Figures) -> dict[str, dict[str, float]]:
    """Baseline CPU per request over each rendered project's: steadier than requests/s when
    other work shares the machine."""
    base = figures["targets"][BASELINE]["scenarios"]
    return {
        target: {
            name: round(
                base[name]["cpu_ms_per_request"]
                / figures["targets"][target]["scenarios"][name]["cpu_ms_per_request"],
                3,
            )
            for name in SCENARIOS
            if figures["targets"][target]["scenarios"][name]["cpu_ms_per_request"]
        }
        for target in RENDERED
    }


def cpu_multiple(figures: Figures, target: str, scenario: str, over: str = BASELINE) -> float:
    """Server CPU per request of `target` over that of `over`, in one scenario."""
    scenarios = figures["targets"]
    mine = scenarios[target]["scenarios"][scenario]["cpu_ms_per_request"]
    theirs = scenarios[over]["scenarios"][scenario]["cpu_ms_per_request"]
    return round(mine / theirs, 2) if theirs else float("nan")


# The most CPU per request the PostgreSQL project may spend, as a multiple of the baseline's.
CPU_LIMITS = {"get_by_id": 2.5, "list_100": 2.0, "create": 2.0, "update": 2.0}


def goals(figures: Figures) -> list[Goal]:
    targets, tooling = figures["targets"], figures["tooling"]
    found = [
        Goal(
            f"{name} CPU, PostgreSQL/baseline",
            cpu_multiple(figures, "postgresql", name),
            limit + 0.005,
            at_least=False,
            unit="x",
        )
        for name, limit in CPU_LIMITS.items()
    ]
    found += [
        Goal(
            f"{name} req/s, SQLite/PostgreSQL",
            _rps(figures, "sqlite", name) / max(_rps(figures, "postgresql", name), 1e-9),
            0.5,
            at_least=True,
        )
        for name in ("get_by_id", "list_100")
    ]
    for target in RENDERED:
        login = targets[target]["scenarios"]["login"]
        found += [
            Goal(f"login req/s ({target})", login["main"]["requests_per_second"], 25, True),
            Goal(f"peak RSS, 32 logins ({target})", login["peak_rss_mib"], 250, False, " MiB"),
            Goal(
                f"health p99 during logins ({target})", login["health"]["p99_ms"], 50, False, " ms"
            ),
        ]
    boot = targets["sqlite"]["boot"]
    return [
        *found,
        Goal("cold start (default)", boot["cold_start_seconds"], 0.8, False, " s"),
        Goal("idle RSS (default)", boot["idle_rss_mib"], 80, False, " MiB"),
        Goal(
            "copier copy (default) over a one-file template",
            tooling["copier_copy_seconds"] - tooling["copier_copy_one_file_seconds"],
            0.5,
            False,
            " s",
        ),
        Goal("own tests, warm (default)", tooling["tests_seconds"]["warm"], 5, False, " s"),
    ]


def markdown(figures: Figures) -> str:
    if figures["settings"]["feed_only"]:
        return _feed_table(figures)
    return "\n\n".join(
        [
            _scenario_table(figures),
            _cpu_table(figures),
            _side_table(figures),
            _access_log_table(figures),
            _feed_table(figures),
            _once_table(figures),
            _goal_table(figures),
            _profile_lines(figures),
        ]
    )


def _rps(figures: Figures, target: str, scenario: str) -> float:
    rate: float = figures["targets"][target]["scenarios"][scenario]["main"]["requests_per_second"]
    return rate


def _cell(stream: dict[str, Any]) -> str:
    return f"{stream['requests_per_second']:.0f} ({stream['p50_ms']:.1f} / {stream['p99_ms']:.1f})"


def _scenario_table(figures: Figures) -> str:
    targets, ratio, cpu_ratio = figures["targets"], figures["ratios"], figures["cpu_ratios"]
    lines = [
        "| scenario | PostgreSQL req/s (p50 / p99 ms) | baseline req/s (p50 / p99 ms) "
        "| PG / baseline (CPU) | SQLite req/s (p50 / p99 ms) | SQLite / baseline (CPU) "
        "| errors PG / base / SQLite | peak RSS MiB PG / base / SQLite "
        "| server CPU ms/request PG / base / SQLite | new DB sessions/request PG / base |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SCENARIOS:
        runs = [targets[target]["scenarios"][name] for target in ("postgresql", BASELINE, "sqlite")]
        errors = " / ".join(str(run["main"]["errors"]) for run in runs)
        rss = " / ".join(f"{run['peak_rss_mib']:.0f}" for run in runs)
        cpu = " / ".join(f"{run['cpu_ms_per_request']:.2f}" for run in runs)
        sessions = " / ".join(f"{run['db_sessions_opened_per_request']:.2f}" for run in runs[:2])
        postgresql, sqlite = (
            f"{ratio[target].get(name, 0):.2f}x ({cpu_ratio[target].get(name, 0):.2f}x)"
            for target in RENDERED
        )
        lines.append(
            f"| {name} | {_cell(runs[0]['main'])} | {_cell(runs[1]['main'])} | {postgresql} "
            f"| {_cell(runs[2]['main'])} | {sqlite} | {errors} | {rss} | {cpu} | {sessions} |"
        )
    return "\n".join(lines)


def _cpu_table(figures: Figures) -> str:
    """Server CPU per request against the baseline and the floor (the same handlers as bare
    FastAPI routes): the project's multiple, and how much of it is FastAPI's own."""
    targets = figures["targets"]
    lines = [
        "| scenario | CPU ms/request PostgreSQL / SQLite / floor / baseline "
        "| PostgreSQL / baseline | PostgreSQL / floor | floor / baseline |",
        "|---|---|---|---|---|",
    ]
    for name in SCENARIOS:
        cpu = " / ".join(
            f"{targets[target]['scenarios'][name]['cpu_ms_per_request']:.2f}"
            for target in ("postgresql", "sqlite", FLOOR, BASELINE)
        )
        lines.append(
            f"| {name} | {cpu} | {cpu_multiple(figures, 'postgresql', name):.2f}x "
            f"| {cpu_multiple(figures, 'postgresql', name, FLOOR):.2f}x "
            f"| {cpu_multiple(figures, FLOOR, name):.2f}x |"
        )
    return "\n".join(lines)


def _side_table(figures: Figures) -> str:
    """The side streams: health probes during logins, logins and probes during the storm."""
    lines = [
        "| side stream | PostgreSQL req/s (p50 / p99 ms) | baseline | SQLite |",
        "|---|---|---|---|",
    ]
    for scenario, stream in (
        ("login", "health"),
        ("list_under_login_storm", "login"),
        ("list_under_login_storm", "health"),
    ):
        cells = [
            _cell(figures["targets"][target]["scenarios"][scenario][stream])
            for target in ("postgresql", BASELINE, "sqlite")
        ]
        lines.append(f"| {stream} during {scenario} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _access_log_table(figures: Figures) -> str:
    """What the access log (one line per request) costs: the PostgreSQL project with and without."""
    targets = figures["targets"]
    lines = [
        "| scenario | req/s with / without access log | with / without | "
        "server CPU ms/request with / without |",
        "|---|---|---|---|",
    ]
    for name in SCENARIOS:
        logged, quiet = (targets[target]["scenarios"][name] for target in ("postgresql", QUIET))
        rates = logged["main"]["requests_per_second"], quiet["main"]["requests_per_second"]
        lines.append(
            f"| {name} | {rates[0]:.0f} / {rates[1]:.0f} | {rates[0] / max(rates[1], 1e-9):.2f}x "
            f"| {logged['cpu_ms_per_request']:.2f} / {quiet['cpu_ms_per_request']:.2f} |"
        )
    return "\n".join(lines)


def _feed_table(figures: Figures) -> str:
    """The live feed: the create stream's writes without and with subscribers on /changes, and
    the events those received."""
    feed = figures["targets"][FEED_TARGET][FEED]
    alone, beside = feed["without_subscribers"], feed["with_subscribers"]
    delivery = feed["delivery"]
    count = delivery["subscribers"]
    return "\n".join(
        [
            f"Live feed ({FEED}, PostgreSQL): the create stream alone, then with {count:.0f} "
            "sockets of the superuser subscribed to its rows on `/changes`.",
            "",
            f"| {FEED} | without subscribers | with {count:.0f} subscribers | with / without |",
            "|---|---|---|---|",
            f"| writes req/s (p50 / p99 ms) | {_cell(alone['main'])} | {_cell(beside['main'])} "
            f"| {feed['write_rate_with_over_without']:.2f}x |",
            f"| write errors | {alone['main']['errors']:.0f} | {beside['main']['errors']:.0f} | |",
            f"| server CPU ms/write | {alone['cpu_ms_per_request']:.2f} "
            f"| {beside['cpu_ms_per_request']:.2f} "
            f"| {beside['cpu_ms_per_request'] / max(alone['cpu_ms_per_request'], 1e-9):.2f}x |",
            f"| server CPU cores busy | {alone['cpu_cores_busy']:.2f} "
            f"| {beside['cpu_cores_busy']:.2f} | |",
            f"| peak RSS MiB | {alone['peak_rss_mib']:.0f} | {beside['peak_rss_mib']:.0f} | |",
            "",
            "| delivery | figure |",
            "|---|---|",
            f"| events/s delivered, all subscribers | {delivery['events_per_second']:.0f} |",
            f"| events/s per subscriber | {delivery['events_per_second_per_subscriber']:.1f} |",
            f"| rows created in the window | {delivery['rows_created']:.0f} |",
            "| share of them each subscriber received, min / median "
            f"| {delivery['fraction_received_min']:.3f} / "
            f"{delivery['fraction_received_median']:.3f} |",
            "| lag from the row's created_at to receipt, p50 / p99 / max ms "
            f"| {delivery['lag_p50_ms']:.1f} / {delivery['lag_p99_ms']:.1f} / "
            f"{delivery['lag_max_ms']:.1f} |",
            f"| sockets the server closed | {delivery['subscribers_closed_by_server']:.0f} |",
            f"| subscribers' process, CPU cores busy | {delivery['client_cpu_cores_busy']:.2f} |",
        ]
    )


def _once_table(figures: Figures) -> str:
    targets, tooling = figures["targets"], figures["tooling"]
    boots = [targets[target]["boot"] for target in ("postgresql", BASELINE, "sqlite")]
    tests = tooling["tests_seconds"]
    conflicts = ", ".join(tooling["update_conflicts"]) or "none"
    return "\n".join(
        [
            "| one-off | PostgreSQL | baseline | SQLite (default) |",
            "|---|---|---|---|",
            "| cold start, s (median) | "
            + " | ".join(f"{boot['cold_start_seconds']:.2f}" for boot in boots)
            + " |",
            "| idle RSS, MiB (median) | "
            + " | ".join(f"{boot['idle_rss_mib']:.0f}" for boot in boots)
            + " |",
            f"| copier copy, s | {tooling['copier_copy_postgresql_seconds']:.2f} | - "
            f"| {tooling['copier_copy_seconds']:.2f} (median of 3) |",
            f"| copier copy of a one-file template, s | - | - "
            f"| {tooling['copier_copy_one_file_seconds']:.2f} (median of 3, in turns) |",
            f"| copier update (HEAD to HEAD), s | - | - "
            f"| {tooling['copier_update_seconds']:.2f} (conflicts: {conflicts}) |",
            f"| uv sync --compile-bytecode, s | {tooling['install_postgresql_seconds']:.2f} | - "
            f"| {tooling['install_seconds']:.2f} |",
            f"| prestart (migrate, first superuser), s | "
            f"{tooling['prestart_postgresql_seconds']:.2f} | - "
            f"| {tooling['prestart_seconds']:.2f} |",
            f"| own tests (`uv run pytest`), s | - | - "
            f"| {tests['warm']:.2f} warm, {tests['first']:.2f} first run |",
        ]
    )


def _goal_table(figures: Figures) -> str:
    rows = [goal.row() for goal in goals(figures)]
    return "\n".join(["| goal | measured | target | verdict |", "|---|---|---|---|", *rows])


def _profile_lines(figures: Figures) -> str:
    lines = [
        "Where the PostgreSQL project's time goes (py-spy, share of samples; "
        "`busy` = samples over those of one always-busy thread):"
    ]
    for scenario, profile in figures.get("profiles", {}).items():
        busy = profile["samples"] / max(profile["expected_samples_one_busy_thread"], 1)
        steps = ", ".join(f"{name} {share:.0%}" for name, share in profile["steps"].items())
        inclusive = ", ".join(
            f"{name} {share:.0%}"
            for name, share in profile["total_by_component"].items()
            if name not in ROOTS
        )
        hottest = ", ".join(
            f"{name} {share:.0%}" for name, share in profile["top_self_functions"][:6]
        )
        lines += [
            f"- {scenario} (busy {busy:.2f}): steps: {steps}",
            f"  - inclusive by component: {inclusive}",
            f"  - hottest self: {hottest}",
        ]
    return "\n".join(lines)


def chart(figures: Figures, output: Path) -> None:
    """Bars of server CPU per request over the baseline's, per scenario, with the 2x target."""
    names = [name for name in SCENARIOS if name != "list_under_login_storm"]
    width = 0.27
    figure, axes = plt.subplots(figsize=(10, 4.8))
    for offset, target in ((-width, "postgresql"), (0, "sqlite"), (width, FLOOR)):
        values = [cpu_multiple(figures, target, name) for name in names]
        axes.bar([index + offset for index in range(len(names))], values, width, label=target)
    axes.axhline(2.0, color="red", linestyle="--", linewidth=1, label="2x target")
    axes.axhline(1.0, color="grey", linestyle=":", linewidth=1, label="baseline")
    axes.set_xticks(range(len(names)), names, rotation=20, ha="right")
    axes.set_ylabel("server CPU per request, over the baseline's")
    axes.set_title("fireup rendered project vs raw Starlette + asyncpg baseline (lower is better)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)

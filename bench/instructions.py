"""Instructions per request of the default project, before and after a change, side by side.

On a shared machine, requests/s and even CPU time per request spread wider between runs than most
single changes move them (bench/README.md). Counted instructions do not: two renders of the same
code count within 1% of each other. This renders the default project (SQLite) and a PostgreSQL one
from a git revision of the template (`--before`, HEAD unless given) and from its working tree,
runs the bench's get_by_id, list_100, update and create requests through each one's app in one
process (counted_requests.py), and prints what valgrind's callgrind counted per request. The count
includes the in-process client's instructions, the same on both sides, so the ratios understate
the app's change; it leaves out the kernel's time (system calls, switches between threads), so a
change that saves round trips to aiosqlite's thread saves more CPU than it shows here.

Needs valgrind (Debian and Ubuntu: `apt-get install valgrind`; macOS: not available). From the
repository root:

    uv run --project bench bench/instructions.py [--before REV] [--requests 40]
"""

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from workspace import (
    BENCH,
    TEMPLATE,
    Project,
    git,
    install,
    postgres_database,
    prestart,
    render,
    run,
    snapshot_template,
)

NAME = "Bench Api"
SLUG = "bench_api"
SCENARIOS = ("get_by_id", "list_100", "update", "create")
DATABASES = ("sqlite", "postgresql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="the template's revision to compare with")
    parser.add_argument("--requests", type=int, default=40, help="counted per scenario")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="fireup-instructions-") as work:
        counts = compare(Path(work), args.before, args.requests)
    print(table(counts, args.before))


def compare(work: Path, before: str, requests: int) -> dict[tuple[str, str], dict[str, float]]:
    """Millions of instructions per request, by (side, database) and then by scenario."""
    after_template = snapshot_template(work / "after-template")
    # A commit, not a name: copier renders a local checkout's uncommitted changes at "HEAD".
    commit = git("rev-parse", "--verify", f"{before}^{{commit}}", cwd=TEMPLATE).strip()
    sides = {"before": (TEMPLATE, commit), "after": (after_template, "HEAD")}
    counts = {}
    with postgres_database() as before_url, postgres_database() as after_url:
        urls = {"before": before_url, "after": after_url}
        for side, (template, ref) in sides.items():
            for database in DATABASES:
                url = urls[side] if database == "postgresql" else None
                project = Project(work / side / database, SLUG, url)
                project.path.mkdir(parents=True)
                render(template, project.path, {"project_name": NAME, "database": database}, ref)
                install(project)
                prestart(project)
                counts[side, database] = count(project, requests)
                print(f"counted {side} ({database})", flush=True)
    return counts


def count(project: Project, requests: int) -> dict[str, float]:
    """Run counted_requests.py in the project under callgrind; millions of instructions each."""
    dumps = project.path / "callgrind"
    dumps.mkdir()
    dotenv = project.dotenv()
    env = {
        **project.env(),
        "ACCESS_LOG": "false",
        "FIRST_SUPERUSER_EMAIL": dotenv["FIRST_SUPERUSER_EMAIL"],
        "FIRST_SUPERUSER_PASSWORD": dotenv["FIRST_SUPERUSER_PASSWORD"],
    }
    callgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={dumps / 'callgrind.out'}",
    ]
    driver = [project.bin / "python", BENCH / "counted_requests.py", project.slug, str(requests)]
    run([*callgrind, *driver], cwd=project.path, env=env)
    per_request = {}
    for dump in dumps.glob("callgrind.out.*"):
        text = dump.read_text()
        scenario = re.search(r"^desc: Trigger: dump (\S+)$", text, re.MULTILINE)
        totals = re.search(r"^totals: (\d+)$", text, re.MULTILINE)
        if scenario and totals:
            per_request[scenario[1]] = round(int(totals[1]) / requests / 1e6, 3)
    return per_request


def table(counts: dict[tuple[str, str], dict[str, float]], before: str) -> str:
    lines = [
        f"Millions of instructions per request, the template at {before} (before) and its "
        "working tree (after):",
        "",
        "| scenario | SQLite before | SQLite after | after / before "
        "| PostgreSQL before | PostgreSQL after | after / before |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        cells = [scenario]
        for database in DATABASES:
            old, new = counts["before", database][scenario], counts["after", database][scenario]
            cells += [f"{old:.3f}", f"{new:.3f}", f"{new / old:.3f}"]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Before `copier update` writes anything: refuse a project whose migrations have several heads.

The hook after the update appends one revision to a single line of history; with several heads
there is no one place to append it, and the update would end half done.
"""

import sys

from _project import run_in_project


def main() -> int:
    result = run_in_project("alembic", "heads", capture=True)
    if result.returncode != 0:
        print(f"fireup: `alembic heads` failed:\n{result.stdout}{result.stderr}", file=sys.stderr)
        return 1
    heads = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    if len(heads) > 1:
        print(
            f"fireup: the migrations have {len(heads)} heads ({', '.join(heads)}), and an update "
            "appends to one. Nothing was changed. Join them, commit, and update again:\n"
            "  uv run alembic merge heads -m 'merge heads'",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""After `copier update` (and `add-resource`): append the migration the new models need.

Migrations that databases may have run are never rewritten (copier.yml keeps
`migrations/versions` out of updates); whatever the update changed in the models, from new
answers or a new fireup release, arrives as one new revision written by the project's own
`make-migration`, which asks at a terminal, or says exactly what to run, when a change would lose
data or needs values for existing rows.
"""

import sys

from _project import run_in_project


def main(project_slug: str) -> int:
    print("fireup: comparing the migrations with the updated models", file=sys.stderr)
    return run_in_project(project_slug, "make-migration").returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

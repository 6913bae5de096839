"""Add a CRUD resource to this project by re-rendering it from its template with one more resource.

Copier renders the resource's package and tests from the same template version the project is on,
so a later `copier update` treats them like every other generated file; the template's update hook
then appends the migration that creates its table.
"""

import re
from pathlib import Path

import yaml

ANSWERS_FILE = Path(".copier-answers.yml")
VERSIONS = Path("migrations/versions")


def add_resource(spec: str) -> str:
    """Render the resource described by `spec` (as in the template's `resources` answer).

    Returns what was done; raises ValueError with a message for a spec that cannot be added.
    """
    # copier is a development dependency: import it only when scaffolding.
    from copier import run_update
    from copier.errors import UserMessageError

    answers = yaml.safe_load(ANSWERS_FILE.read_text())
    name = _resource_name(spec)
    if name in {_resource_name(existing) for existing in answers["resources"].split(";")}:
        raise ValueError(
            f"'{name}' is already a resource. To change its fields, edit its entry in the "
            "resources answer: copier update --defaults --trust --vcs-ref "
            f"{answers['_commit']} --data 'resources=...' (README: Change the schema)"
        )
    before = set(VERSIONS.glob("*.py"))
    try:
        run_update(
            ".",
            data={"resources": f"{answers['resources']}; {spec.strip()}"},
            defaults=True,
            overwrite=True,
            vcs_ref=str(answers["_commit"]),
            quiet=True,
            # The template's update hook writes the new table's migration.
            unsafe=True,
        )
    except UserMessageError as error:
        raise ValueError(str(error)) from error
    written = sorted(str(path) for path in set(VERSIONS.glob("*.py")) - before)
    return f"Added {name}; its migration: {', '.join(written) or 'none written'}."


def _resource_name(spec: str) -> str:
    """The name of the resource a spec describes: its first word, without a `(plural)`."""
    head = spec.split()[0] if spec.split() else ""
    return re.sub(r"\(.*", "", head)

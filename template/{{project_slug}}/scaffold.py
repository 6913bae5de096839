"""Add a CRUD resource to this project by re-rendering it from its template with one more resource.

Copier renders the resource's package, migration and tests from the same template version the
project is on, so a later `copier update` treats them like every other generated file.
"""

from pathlib import Path

import yaml
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ANSWERS_FILE = Path(".copier-answers.yml")


def add_resource(spec: str) -> str:
    """Render the resource described by `spec` (as in the template's `resources` answer).

    Returns what was done; raises ValueError with copier's message for a spec it refuses.
    """
    # copier is a development dependency: import it only when scaffolding.
    from copier import run_update
    from copier.errors import UserMessageError

    answers = yaml.safe_load(ANSWERS_FILE.read_text())
    resources = f"{answers['resources']}; {spec.strip()}"
    try:
        run_update(
            ".",
            data={"resources": resources},
            defaults=True,
            overwrite=True,
            vcs_ref=str(answers["_commit"]),
            quiet=True,
        )
    except UserMessageError as error:
        raise ValueError(str(error)) from error
    return _merge_migration_heads(spec.split()[0])


def _merge_migration_heads(resource: str) -> str:
    """Merge the new resource's migration with migrations you wrote since the last resource."""
    config = Config("alembic.ini")
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) > 1:
        command.merge(config, "heads", message=f"merge {resource} into your migrations")
        return f"Added {resource}, and merged its migration with your own ({', '.join(heads)})."
    return f"Added {resource}."

"""Generated lines whose length depends on the names are laid out as `ruff format` lays them out.

Names decide whether a line fits in 100 characters, so resources with names of every length near
the limit are rendered (without installing them) and checked with the project's own ruff rules.
"""

import string
from pathlib import Path

from .conftest import copier_copy, run


def long_names_answer() -> str:
    """Resources whose filter, alias, check and reference lines end up from 90 to 110 characters
    long; each refers to the one before it (and links it), the first to itself, and each but the
    last to the one after it, which closes a cycle of references."""
    letters = string.ascii_lowercase[:18]
    resources = [f"r{letter}{'n' * (index % 9)}" for index, letter in enumerate(letters)]
    chunks: list[str] = []
    for index, letter in enumerate(letters):
        width = 3 + index  # field names from 3 to 20 characters
        resource = resources[index]
        name = (letter * width)[:20]
        others = [f"{other * width}"[:20] for other in "xyzw"]
        previous = chunks[-1].split()[0] if chunks else resource
        chunks.append(
            f"{resource} {name}:str(10000):email:null "
            f"{others[0]}:text:min=1:max=99999 {others[1]}:decimal(38,10):min=-99999999.125 "
            f"{others[2]}:enum({','.join(letter * (width + 10) + str(n) for n in range(4))}) "
            f"{others[3][:12]}:ref({previous}):null"
            + (f" {letter * 6}_tags:refs({previous})" if chunks else "")
            + (f" {name[:15]}_next:ref({resources[index + 1]}):null" if index < 17 else "")
        )
    return "; ".join(chunks)


def test_long_names_render_formatted_and_clean(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = copier_copy(
        destination, {"project_name": "Long Names", "resources": long_names_answer()}
    )
    assert result.returncode == 0, result.stderr

    for command in (["ruff", "format", "--check", "."], ["ruff", "check", "."]):
        checked = run(command, cwd=destination)
        assert checked.returncode == 0, f"{' '.join(command)}:\n{checked.stdout}{checked.stderr}"

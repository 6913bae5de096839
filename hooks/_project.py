"""What both update hooks need: run a command in the project's own environment through uv."""

import importlib.util
import shutil
import subprocess
import sys


def uv() -> list[str]:
    """uv as a program, or as the module `python3 -m pip install uv` puts beside copier."""
    program = shutil.which("uv")
    if program is not None:
        return [program]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    sys.exit("fireup: this update needs uv to check the migrations: python3 -m pip install uv")


def run_in_project(*command: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `command` with `uv run` in the project (the working directory copier gives hooks)."""
    return subprocess.run(
        [*uv(), "run", "--quiet", *command], capture_output=capture, text=True, check=False
    )

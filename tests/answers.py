"""The template's own answer macros (includes/answers.jinja), run in-process as copier runs them.

The suite reads the parsed resources from the one parser the template has, instead of restating
its grammar, and tests every error branch of the validators without a copier process apiece.
"""

import json
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from .conftest import TEMPLATE


@cache
def environment() -> SandboxedEnvironment:
    """Jinja as copier configures it for this template: sandboxed, with the Ansible filters."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATE),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )


def call(macro: str, *arguments: object) -> str:
    """What `macro` of answers.jinja renders for these arguments."""
    source = f'{{% from "includes/answers.jinja" import {macro} %}}{{{{ {macro}(*arguments) }}}}'
    return environment().from_string(source).render(arguments=arguments)


def parse_resources(answer: str) -> dict[str, Any]:
    """{"errors": [...], "resources": [...]}: what copier.yml's validator and `resource_list`
    see."""
    parsed: dict[str, Any] = json.loads(call("parse_resources", answer))
    return parsed


def resources(answer: str) -> list[dict[str, Any]]:
    """The resources of a valid answer."""
    parsed = parse_resources(answer)
    assert parsed["errors"] == [], parsed["errors"]
    resource_list: list[dict[str, Any]] = parsed["resources"]
    return resource_list

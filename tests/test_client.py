"""A Python client generated from a served project's OpenAPI document (openapi-python-client) logs
in, refreshes and does CRUD on every resource, as a frontend team's generated client would."""

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from .answers import resources
from .conftest import Project, run, sample_project, sqlite_env
from .samples import sample
from .server import served
from .walk import all_fraction_decimals, example_payload, resource_paths

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, sample("every-type"))


def generate_client(openapi: dict[str, Any], folder: Path) -> str:
    """Generate the client package into `folder`; return its name."""
    document = folder / "openapi.json"
    document.write_text(json.dumps(openapi))
    command = ["openapi-python-client", "generate", "--path", str(document), "--meta", "none"]
    result = run(command, cwd=folder / "client")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Warning" not in result.stdout, result.stdout
    (package,) = [path.parent.name for path in (folder / "client").glob("*/client.py")]
    return package


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[Any]:
    """Import a generated package from the client folder; forget it afterwards."""
    (tmp_path / "client").mkdir()
    sys.path.insert(0, str(tmp_path / "client"))
    before = set(sys.modules)

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    yield load
    sys.path.remove(str(tmp_path / "client"))
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_generated_client_logs_in_refreshes_and_does_crud(
    project: Project, tmp_path: Path, imported: Any
) -> None:
    env = sqlite_env(tmp_path / "client.db")
    project.run("alembic", "upgrade", "head", env=env)
    with served(project, env=env, log=tmp_path / "server.log") as base_url:
        openapi = httpx.get(f"{base_url}/openapi.json").json()
        package = generate_client(openapi, tmp_path)
        client_module = imported(package)
        models = imported(f"{package}.models")
        login = imported(f"{package}.api.auth.auth_login")
        refresh = imported(f"{package}.api.auth.auth_refresh")

        anonymous = client_module.Client(base_url=base_url)
        credentials = models.LoginForm(
            username=project.env["FIRST_SUPERUSER_EMAIL"],
            password=project.env["FIRST_SUPERUSER_PASSWORD"],
        )
        tokens = login.sync(client=anonymous, body=credentials)
        assert isinstance(tokens, models.TokenPair), tokens
        body = models.RefreshRequest(refresh_token=tokens.refresh_token)
        rotated = refresh.sync(client=anonymous, body=body)
        assert isinstance(rotated, models.TokenPair), rotated
        assert isinstance(refresh.sync(client=anonymous, body=body), models.ErrorDetail)

        authenticated = client_module.AuthenticatedClient(
            base_url=base_url, token=rotated.access_token
        )
        schemas = openapi["components"]["schemas"]
        by_plural = {
            resource["plural"]: resource
            for resource in resources(str(project.answers["resources"]))
        }
        walked = []
        for path, create_schema in resource_paths(openapi):
            plural = path.removeprefix("/")
            payload = example_payload(schemas[create_schema], schemas)
            payload.update(all_fraction_decimals(by_plural[plural]))
            api = {
                verb: imported(f"{package}.api.{plural}.{plural}_{verb}")
                for verb in ("create", "read", "list", "update", "delete")
            }
            model = getattr(models, create_schema)
            created = api["create"].sync(client=authenticated, body=model.from_dict(payload))
            assert not isinstance(created, models.HTTPValidationError | models.ErrorDetail), created
            assert api["read"].sync(created.id, client=authenticated).id == created.id
            listed = api["list"].sync(client=authenticated)
            assert [item.id for item in listed.items] == [created.id]
            update = getattr(models, create_schema.removesuffix("Create") + "Update")
            changed = api["update"].sync(
                created.id, client=authenticated, body=update.from_dict({})
            )
            assert changed.id == created.id
            deleted = api["delete"].sync_detailed(created.id, client=authenticated)
            assert deleted.status_code == 204
            missing = api["read"].sync(created.id, client=authenticated)
            assert isinstance(missing, models.ErrorDetail), missing
            walked.append(plural)

    assert walked == list(by_plural)

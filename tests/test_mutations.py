"""Every behaviour the rendered API promises has a test of its own that fails without it.

Each mutation breaks one promise in the rendered source (sorting, filtering, paging, owner
scoping, uniqueness, auth refusals, ...) and runs the test module that guards it: that module
must fail. A mutation whose code no longer exists fails here too, so that this list follows the
code it breaks.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Project, install, render, run
from .samples import DEFAULT_RESOURCES, GRAPH_RESOURCES

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    # The rendered test module that must catch it.
    caught_by: str


MUTATIONS = [
    Mutation(
        "sort ignored",
        "crud.py",
        'getattr(model, key.removeprefix("-"))',
        "model.id",
        "test_book.py",
    ),
    Mutation(
        "descending ignored",
        "crud.py",
        'return column.desc() if key.startswith("-") else column.asc()',
        "return column.asc()",
        "test_book.py",
    ),
    Mutation(
        "filters ignored",
        "crud.py",
        "return PageQuery.of(query.where(*conditions).order_by(",
        "return PageQuery.of(query.order_by(",
        "test_book.py",
    ),
    Mutation(
        "offset ignored",
        "pagination.py",
        ".offset(PAGE_OFFSET)",
        "",
        "test_book.py",
    ),
    Mutation(
        "limit ignored",
        "pagination.py",
        "query.limit(PAGE_LIMIT)",
        "query",
        "test_book.py",
    ),
    Mutation(
        "total is the page size",
        "pagination.py",
        "Paginated(list(rows), total or 0,",
        "Paginated(list(rows), params.limit,",
        "test_book.py",
    ),
    Mutation(
        "users see every row",
        "crud.py",
        "return query if owner is None else query.where(model.owner_id == owner)",
        "return query",
        "test_book.py",
    ),
    Mutation(
        "superusers see only their own rows",
        "crud.py",
        "return None if self.user.is_superuser else self.user.id",
        "return self.user.id",
        "test_book.py",
    ),
    Mutation(
        "a read by id ignores the owner",
        "crud.py",
        "owned_by(query.where(model.id == ROW_ID), model, OWNER_ID if owned else None)",
        "owned_by(query.where(model.id == ROW_ID), model, None)",
        "test_book.py",
    ),
    Mutation(
        "a read by id passes over the service's own rule",
        "crud.py",
        "type(self).owned_by, self.model, instances=instances, owned=owner is not None",
        "OwnedCrud.owned_by, self.model, instances=instances, owned=owner is not None",
        "test_book.py",
    ),
    Mutation(
        "a superuser's read by id is scoped to their own rows",
        "crud.py",
        "self.model, instances=instances, owned=owner is not None",
        "self.model, instances=instances, owned=True",
        "test_book.py",
    ),
    Mutation(
        "a read by id binds another user as the owner",
        "crud.py",
        "return query, {ROW_ID.key: row_id, OWNER_ID.key: owner}",
        "return query, {ROW_ID.key: row_id, OWNER_ID.key: row_id}",
        "test_book.py",
    ),
    Mutation(
        "a list ignores the owner",
        "crud.py",
        "query = owned_by(query, model, OWNER_ID if owned else None)",
        "query = owned_by(query, model, None)",
        "test_book.py",
    ),
    Mutation(
        "a list passes over the service's own rule",
        "crud.py",
        "        query = select_page(\n            type(self).owned_by,\n",
        "        query = select_page(\n            OwnedCrud.owned_by,\n",
        "test_book.py",
    ),
    Mutation(
        "a superuser's list is scoped to their own rows",
        "crud.py",
        "            owned=owner is not None,\n",
        "            owned=True,\n",
        "test_book.py",
    ),
    Mutation(
        "a filter whose SQL differs by value is kept for its first value",
        "crud.py",
        "given.append((key, marker, value if marker.varies_by_value else None))",
        "given.append((key, marker, None))",
        "test_book.py",
    ),
    Mutation(
        "a row's owner is whoever asks",
        "crud.py",
        '{**values, "owner_id": self.user.id}',
        '{**values, "owner_id": 1}',
        "test_book.py",
    ),
    Mutation(
        "a unique clash is no conflict",
        "crud.py",
        "            if columns is None:\n",
        "            if True:\n",
        "test_book.py",
    ),
    Mutation(
        "inactive users pass",
        "auth/dependencies.py",
        "    if not state.is_active:\n",
        "    if False:\n",
        "test_user_states.py",
    ),
    Mutation(
        "a user changed through the service keeps their old state",
        "users/service.py",
        "    states.forget(user.id)\n    return user\n",
        "    return user\n",
        "test_user_states.py",
    ),
    Mutation(
        "a user's state is kept for ever",
        "auth/principal.py",
        "        if time.monotonic() >= expires_at:\n",
        "        if False:\n",
        "test_user_states.py",
    ),
    Mutation(
        "SQLite's datetimes come back without their time zone",
        "database.py",
        '        if dialect.driver == "asyncpg" and coltype == POSTGRES_TIMESTAMPTZ_OID:\n',
        "        if True:\n",
        "test_book.py",
    ),
    Mutation(
        "a reference deleted meanwhile is a 500",
        "crud.py",
        "            if is_foreign_key_violation(error):\n",
        "            if False:\n",
        "test_book.py",
    ),
    Mutation(
        "a line break in a path starts a line of the text log",
        "request_log.py",
        "                message = json_string(message)[1:-1]\n",
        "                pass\n",
        "test_request_log.py",
    ),
    Mutation(
        "every user is a superuser",
        "auth/dependencies.py",
        "    if not principal.is_superuser:\n",
        "    if False:\n",
        "test_users.py",
    ),
    Mutation(
        "a refresh token passes for an access token",
        "auth/tokens.py",
        'if claims.get("type") != token_type:',
        "if False:",
        "test_auth.py",
    ),
    Mutation(
        "an expired access token passes",
        "auth/tokens.py",
        "    if utc_now() >= claims.expires_at:\n",
        "    if False:\n",
        "test_auth.py",
    ),
    Mutation(
        "a deleted user's token acts for a later user of the same id",
        "auth/dependencies.py",
        "    if state is None or not claims.is_for_user_created_at(state.created_at):\n"
        "        # Gone",
        "    if state is None:\n        # Gone",
        "test_auth.py",
    ),
    Mutation(
        "a worker takes a deleted user's kept state for a later user's of the same id",
        "auth/dependencies.py",
        "    if state is None or not claims.is_for_user_created_at(state.created_at):\n"
        "        # Not kept",
        "    if state is None:\n        # Not kept",
        "test_user_states.py",
    ),
    Mutation(
        "a deleted superuser's admin session opens for a later one of the same id",
        "admin/authentication.py",
        "return same_user and _may_administer(user)",
        "return _may_administer(user)",
        "test_admin.py",
    ),
    Mutation(
        "the admin stores what the API refuses",
        "admin/row_view.py",
        "        check_as_the_api_does(self.update_schema, data)\n",
        "",
        "test_admin.py",
    ),
    Mutation(
        "the admin stores a textarea's line breaks as the browser posts them, CRLF",
        "admin/form_values.py",
        '"filters": [*kwargs["filters"], _line_breaks_as_typed]',
        '"filters": [*kwargs["filters"]]',
        "test_admin.py",
    ),
    Mutation(
        "the admin shows a year before 1000 without its leading zeros",
        "admin/form_values.py",
        "field.field_class = _FOUR_DIGIT_YEARS.get(field.field_class, field.field_class)",
        "field.field_class = field.field_class",
        "test_admin.py",
    ),
    Mutation(
        "a blank field in the admin is checked as empty text, not as null",
        "admin/refusals.py",
        'None if form[name] == "" else form[name]',
        "form[name]",
        "test_admin.py",
    ),
    Mutation(
        "the admin's refusals are logged as errors of the app",
        "admin/site.py",
        "logging.getLogger(SQLADMIN_LOGGER).addFilter(not_a_refusal)",
        "pass",
        "test_admin.py",
    ),
    Mutation(
        "errors of the app in the admin go unreported",
        "admin/refusals.py",
        "return not (isinstance(status_code, int) and status_code < 500)",
        "return False",
        "test_admin.py",
    ),
    Mutation(
        "an admin URL's id that no row can have reaches the database",
        "admin/row_view.py",
        "return value.isascii() and value.isdigit() and 1 <= int(value) <= INT32_MAX",
        "return value.isascii() and value.isdigit()",
        "test_admin.py",
    ),
    Mutation(
        "an admin list filters an int column by a value beyond INTEGER",
        "admin/filters.py",
        "if operation not in offered or _beyond_integer(column, value):",
        "if operation not in offered:",
        "test_admin.py",
    ),
    Mutation(
        "the admin's file pages look up a row of an id no row can have",
        "admin/row_view.py",
        'raise NotFoundError("No file here")',
        "return await super().get_object_filepath(identifier, column_name)",
        "test_admin.py",
    ),
    Mutation(
        "the admin deletes without naming rows",
        "admin/mount.py",
        'if scope["method"] == "DELETE" and "pks" not in QueryParams(query):',
        "if False:",
        "test_admin.py",
    ),
    Mutation(
        "the admin searches for NUL",
        "admin/mount.py",
        'if b"%00" in query:',
        "if False:",
        "test_admin.py",
    ),
    Mutation(
        "a refresh token works twice",
        "auth/service.py",
        "        .values(revoked=True)\n        .returning(RefreshToken.user_id)",
        "        .values(revoked=False)\n        .returning(RefreshToken.user_id)",
        "test_auth.py",
    ),
    Mutation(
        "a reused refresh token revokes nothing",
        "auth/service.py",
        "            await revoke_all_refresh_tokens(session, stored.user_id)\n",
        "",
        "test_auth.py",
    ),
    Mutation(
        "any password logs in",
        "users/service.py",
        "    if user is None or not valid:\n",
        "    if user is None:\n",
        "test_auth.py",
    ),
    Mutation(
        "failed logins are not counted",
        "auth/service.py",
        "        await throttle.failed(email, address)\n",
        "",
        "test_login_limits.py",
    ),
    Mutation(
        "deactivation keeps refresh tokens",
        "users/service.py",
        "        if data.is_active is False or data.password is not None:\n",
        "        if data.password is not None:\n",
        "test_users.py",
    ),
    Mutation(
        "the last superuser can be demoted",
        "users/service.py",
        "    if demoted and await _is_last_active_superuser(session, user):",
        "    if False:",
        "test_users.py",
    ),
    Mutation(
        "a taken email is no conflict",
        "users/service.py",
        "        if unique_violation_columns(error) is None:\n",
        "        if True:\n",
        "test_users.py",
    ),
    Mutation(
        "a range filter tests the wrong way",
        "filters.py",
        "_column(model, self.column) >= value",
        "_column(model, self.column) <= value",
        "test_book.py",
    ),
    Mutation(
        "a text filter takes wildcards",
        "filters.py",
        'for special in (LIKE_ESCAPE, "%", "_"):',
        "for special in ():",
        "test_book.py",
    ),
    Mutation(
        "several sort keys but the first ignored",
        "crud.py",
        "order = [_order(model, key) for key in sort]",
        "order = [_order(model, key) for key in sort[:1]]",
        "test_book.py",
    ),
    Mutation(
        "a reference to another user's row passes",
        "crud.py",
        "self._owned(select(target.id).where(target.id == row_id), target)",
        "select(target.id).where(target.id == row_id)",
        "test_article.py",
    ),
    Mutation(
        "a link to another user's row passes",
        "crud.py",
        "self._owned(select(target.id).where(target.id.in_(wanted)), target)",
        "select(target.id).where(target.id.in_(wanted))",
        "test_article.py",
    ),
    Mutation(
        "include embeds nothing",
        "crud.py",
        "        await _embed(session, model, name, rows)\n",
        "        pass\n",
        "test_article.py",
    ),
    Mutation(
        "embedding loads row by row",
        "crud.py",
        "embedded = await read_rows(session, query, target) if wanted else []",
        "embedded = [row for one in wanted for row in await read_rows(session, "
        "select_columns(target).where(target.id == one), target)]",
        "test_article.py",
    ),
    Mutation(
        "a row's many-to-many ids are left out",
        "crud.py",
        'row[key] = tuple(linked_ids[row["id"]])',
        "row[key] = ()",
        "test_article.py",
    ),
    Mutation(
        "a row others refer to is deleted regardless",
        "crud.py",
        "        await self._refuse_if_referred_to(row)\n",
        "",
        "test_writer.py",
    ),
    Mutation(
        "a migration leaving broken references commits",
        "revisions/history.py",
        'broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()',
        "broken = []",
        "test_migrations.py",
    ),
    Mutation(
        "a model's AUTOINCREMENT not compared with the database's",
        "revisions/history.py",
        "            if wanted != bool(AUTOINCREMENT.search(created[table.name])):",
        "            if False:",
        "test_migrations.py",
    ),
    Mutation(
        "a migration copying a table on SQLite resets its count of ids",
        "revisions/history.py",
        '        if AUTOINCREMENT.search(tables.get(table, "")) and counts.get(table, 0) < count:',
        "        if False:",
        "test_migrations.py",
    ),
    Mutation(
        "a table renamed, then copied, in one run of migrations resets its count of ids",
        "revisions/history.py",
        """        if (renamed := RENAME_TABLE.match(statement)) and renamed["old"] in counted:""",
        "        if False:",
        "test_migrations.py",
    ),
    Mutation(
        "a batch make-migration writes lets SQLite's copy drop AUTOINCREMENT",
        "revisions/history.py",
        "    if lines and lines[0].startswith(batch) and kept:",
        "    if False:",
        "test_migrations.py",
    ),
    Mutation(
        "users' ids given again on SQLite",
        "users/model.py",
        '    __table_args__ = ({"sqlite_autoincrement": True},)\n',
        "",
        "test_migrations.py",
    ),
    Mutation(
        "foreign keys stay off after migrating",
        "revisions/history.py",
        '        _set_foreign_keys(connection, "ON")\n',
        "        pass\n",
        "test_article.py",
    ),
    Mutation(
        "the feed sends other users' rows",
        "changes/feed.py",
        "mine = self.principal.is_superuser or event.owner_id == self.principal.id",
        "mine = True",
        "test_changes.py",
    ),
    Mutation(
        "the feed waits for its next look after the app's own commits",
        "changes/feed.py",
        "        if recorded and self._task is not None and not self._task.get_loop().is_closed():",
        "        if False:",
        "test_changes.py",
    ),
    Mutation(
        "the feed never looks for other processes' events on SQLite",
        "changes/feed.py",
        "            seconds = self._settings.changes_sqlite_poll_seconds",
        "            seconds = PRUNE_EVERY_SECONDS",
        "test_changes.py",
    ),
    Mutation(
        "the feed ignores the resources asked for",
        "changes/feed.py",
        "return mine and event.resource in self.resources",
        "return mine",
        "test_changes.py",
    ),
    Mutation(
        "a socket outlives its access token",
        "changes/routes.py",
        "                _until(claims.expires_at.timestamp()),\n",
        "",
        "test_changes.py",
    ),
    Mutation(
        "a socket outlives its user's deactivation",
        "changes/routes.py",
        "_recheck(database, claims, principal, settings.changes_recheck_seconds),\n",
        "",
        "test_changes.py",
    ),
    Mutation(
        "a socket keeps the rights its user lost",
        "changes/routes.py",
        "if await _check_user(database, claims) != principal:",
        "if await _check_user(database, claims) is None:",
        "test_changes.py",
    ),
    Mutation(
        "a deleted user's socket, a later user having the id, is not closed as gone",
        "changes/routes.py",
        "    except NotAuthenticatedError:\n",
        "    except ValueError:\n",
        "test_changes.py",
    ),
    Mutation(
        "a client is sent another user's row that took an id of theirs",
        "changes/feed.py",
        'if row is None or row["owner_id"] != event.owner_id:',
        "if row is None:",
        "test_changes.py",
    ),
    Mutation(
        "a reconnecting client misses what it missed",
        "changes/routes.py",
        "            await websocket.send_text(message)\n    await websocket.send_json",
        "            pass\n    await websocket.send_json",
        "test_changes.py",
    ),
    Mutation(
        "any cursor counts as kept",
        "changes/feed.py",
        "return oldest is not None and cursor >= oldest - 1",
        "return True",
        "test_changes.py",
    ),
    Mutation(
        "no cap on sockets per user",
        "changes/feed.py",
        "if self._sockets[principal.id] >= self._settings.changes_sockets_per_user:",
        "if False:",
        "test_changes.py",
    ),
    Mutation(
        "a deleted user's rows vanish from the feed",
        "changes/recording.py",
        '        _record_rows(connection, table, "delete", ids)\n',
        "        pass\n",
        "test_changes.py",
    ),
    Mutation(
        "rows a delete cascades to or clears are not sent",
        "changes/recording.py",
        "_record_consequences(connection, row.__table__, [row.id],",
        "None and _record_consequences(connection, row.__table__, [row.id],",
        "test_changes.py",
    ),
    Mutation(
        "rows whose links go with a deleted row are not sent",
        "changes/recording.py",
        'dependents.append((linking, other, "update"))',
        "pass",
        "test_changes.py",
    ),
    Mutation(
        "the API's updates are not recorded",
        "crud.py",
        'await self._record(connection, "update", row)',
        "pass",
        "test_changes.py",
    ),
    Mutation(
        "the admin's edits are not recorded",
        "changes/recording.py",
        '        record(connection, ONE_EVENT, _one_event(row, "update"))\n',
        "        pass\n",
        "test_changes.py",
    ),
    Mutation(
        "the ORM's writes are not recorded",
        "main.py",
        "    record_orm_writes()\n",
        "",
        "test_changes.py",
    ),
    Mutation(
        "an update answers with the values as sent",
        "crud.py",
        "row |= zip(result.keys(), written, strict=True)",
        "row |= changed",
        "test_book.py",
    ),
    Mutation(
        "an update keeps the links it drops",
        "crud.py",
        "if gone := linked - wanted:",
        "if gone := linked - linked:",
        "test_article.py",
    ),
    Mutation(
        "an update's links are not written",
        "crud.py",
        "if set(row[key]) != ids}",
        "if False}",
        "test_article.py",
    ),
    Mutation(
        "an update that changes nothing writes",
        "crud.py",
        "if row[name] != value}",
        "}",
        "test_book.py",
    ),
    Mutation(
        "an event's owner is whoever writes",
        "crud.py",
        'row["id"], row["owner_id"])',
        'row["id"], self.user.id)',
        "test_changes.py",
    ),
    Mutation(
        "an update that changes nothing is sent",
        "crud.py",
        "        if not changed and not relinked:\n            return row\n",
        "",
        "test_changes.py",
    ),
    Mutation(
        "a change of links alone is not sent",
        "crud.py",
        '            await self._record(connection, "update", row)',
        '            if changed:\n                await self._record(connection, "update", row)',
        "test_changes.py",
    ),
    Mutation(
        "an update keeps updated_at",
        "crud.py",
        "{**changed, UPDATED_ID.key: row_id}",
        '{"updated_at": row["updated_at"], **changed, UPDATED_ID.key: row_id}',
        "test_article.py",
    ),
    Mutation(
        "an ORM read keeps the values the session held",
        "crud.py",
        ".execution_options(populate_existing=True)",
        "",
        "test_book.py",
    ),
    Mutation(
        "bodies of any size",
        "body_size.py",
        "int(declared) > self.max_bytes",
        "int(declared) > 10 * self.max_bytes",
        "test_security.py",
    ),
]


@pytest.fixture(scope="module")
def project(workspace: Path) -> Project:
    # The default resource, with a unique field for the uniqueness promise, and the graph.
    resources = f"{DEFAULT_RESOURCES} isbn:str(13):unique; {GRAPH_RESOURCES}"
    project = render(workspace / "mutated", {"project_name": "Mutated", "resources": resources})
    install(project)
    return project


def test_the_guarding_modules_pass_unmutated(project: Project) -> None:
    modules = sorted({f"tests/{mutation.caught_by}" for mutation in MUTATIONS})
    project.run("pytest", "-q", "-p", "no:cacheprovider", *modules)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_breaking_a_promise_fails_its_test(project: Project, mutation: Mutation) -> None:
    source = project.path / project.slug / mutation.file
    original = source.read_text()
    assert original.count(mutation.old) == 1, f"{mutation.name}: not found once in {mutation.file}"
    source.write_text(original.replace(mutation.old, mutation.new))
    try:
        command = ["uv", "run", "--frozen", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        result = run([*command, f"tests/{mutation.caught_by}"], cwd=project.path)
    finally:
        source.write_text(original)
    assert result.returncode == 1, f"{mutation.name} survived:\n{result.stdout}{result.stderr}"

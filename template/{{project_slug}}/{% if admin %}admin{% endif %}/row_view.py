from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel
from sqladmin import ModelView
from sqladmin.authentication import get_current_user_id
from sqlalchemy import Select, false, select
from starlette.requests import Request

from ..errors import NotFoundError
from ..schemas import INT32_MAX
from .form_values import FormConverter, keep_what_the_form_could_not_show
from .refusals import check_as_the_api_does


class RowView(ModelView):
    """The base of the admin's views, whose rows have INTEGER ids.

    An id in a URL that no row can have (not a number, or beyond INTEGER's range) finds no row,
    and the page answers as for a deleted row (404), where sqladmin would fail on it (500).
    Their forms read back what they show (FormConverter).
    """

    form_converter = FormConverter

    def details_query(self, request: Request) -> Select[Any]:
        # A row's details, and the checks before its edit and its delete.
        return super().details_query(request) if _names_a_row(request) else self._no_row()

    def form_edit_query(self, request: Request) -> Select[Any]:
        return super().form_edit_query(request) if _names_a_row(request) else self._no_row()

    async def get_object_for_delete(self, value: Any) -> Any:
        return await super().get_object_for_delete(value) if _can_be_a_row_id(value) else None

    async def get_object_filepath(self, identifier: str, column_name: str) -> Path:
        # sqladmin's download and preview of a file that a row names, which looks the row up on
        # its own. No column here names a file.
        raise NotFoundError("No file here")

    def _no_row(self) -> Select[Any]:
        return select(self.model).where(false())


class OwnedRowView(RowView):
    """The base of a resource's view, whose rows have an owner (crud.OwnedBase)."""

    # The resource's schema of an update (`BookUpdate`): what its form saves is checked by it.
    update_schema: ClassVar[type[BaseModel]]

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        """Checked and saved as the API would, or refused with its reasons; saved without an
        owner, it belongs to the admin who saved it. An edit keeps the stored values that the
        form could not show exactly and were posted back as shown."""
        if not is_created:
            keep_what_the_form_could_not_show(data, model)
        check_as_the_api_does(self.update_schema, data)
        if not data["owner"]:
            data["owner"] = str(get_current_user_id(request))


def _names_a_row(request: Request) -> bool:
    return _can_be_a_row_id(request.path_params["pk"])


def _can_be_a_row_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and 1 <= int(value) <= INT32_MAX

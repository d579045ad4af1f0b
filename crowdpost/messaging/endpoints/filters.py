"""The folder filters of both thread lists (`?folder=INBOX,UNREAD&folder_ne=IMPORTANT`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.messaging.repository import ThreadFilters
from crowdpost.messaging.schemas import Folder

FolderParam = Annotated[str | None, Query(description="Comma list: the thread is in every one of them")]
FolderNeParam = Annotated[str | None, Query(description="Comma list: the thread is in none of them")]


def parse_folders(raw: str | None, field: str) -> list[Folder]:
    if not raw:
        return []
    folders = []
    for part in raw.split(","):
        name = part.strip()
        try:
            folders.append(Folder(name))
        except ValueError:
            allowed = [f.value for f in Folder]
            raise ValidationFailed(
                {field: field_error("UNKNOWN_ENUM_VALUE", f"unknown folder {name!r}; allowed: {allowed}", name)}
            ) from None
    return folders


def folder_filters(folder: FolderParam = None, folder_ne: FolderNeParam = None) -> ThreadFilters:
    return ThreadFilters(folder=parse_folders(folder, "folder"), folder_ne=parse_folders(folder_ne, "folder_ne"))

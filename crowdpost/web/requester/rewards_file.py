"""Rewards: pay from a CSV file (upload, preview, pay once, failed rows as CSV).

/rewards/file            the upload form (multipart; the body cap of this one POST is
                         `max_bonus_file_bytes`, see crowdpost.middleware)
/rewards/file/{id}       the preview: bad rows with their lines and reasons (50 a page),
                         the good rows' count, total, fee and balance after; or, once paid,
                         the operation and a link to its progress page
/rewards/file/{id}/pay   one async bonus operation for the good rows (skip_invalid_items),
                         its id derived from the file's content: the same file never pays twice
/rewards/file/{id}/failed.csv   303 to the failed items of the file's operation
                         (/rewards/operations/{operation id}/failed.csv)

The logic is `crowdpost.rewards.bonus_files` (the same checks and service as the API).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from crowdpost.dependencies import SessionDep, SettingsDep, get_db
from crowdpost.errors import DoesNotExist
from crowdpost.kit.money import from_micros
from crowdpost.rewards import bonus_files
from crowdpost.rewards.bonus_file import BonusFileError, parse
from crowdpost.web.session import FormUserDep, PageUserDep
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

BAD_ROWS_PAGE = 50


def _file_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise DoesNotExist(f"File {raw[:20]} does not exist")
    return int(raw)


@router.get("/rewards/file")
def upload_page(request: Request, user: PageUserDep) -> Response:
    return render(request, "rewards/file_upload.html", {"errors": {}})


def _check_and_store(request: Request, requester_id: int, filename: str, content: bytes, cap: int) -> int | str:
    """The stored file's id, or why the file as a whole cannot be used."""
    if len(content) > cap:
        return f"The file is larger than {cap // (1024 * 1024)} MB; split it into several files."
    try:
        parse(content)
    except BonusFileError as exc:
        return str(exc)
    with get_db(request).transaction() as session:
        return bonus_files.do_store(session, requester_id, filename, content).id


@router.post("/rewards/file")
async def upload(
    request: Request, user: FormUserDep, settings: SettingsDep, file: Annotated[UploadFile, File()]
) -> Response:
    # The middleware has already refused a body over max_bonus_file_bytes before reading it.
    cap = settings.max_bonus_file_bytes
    content = await file.read(cap + 1)
    # Parsing 100,000 rows and the database write run off the event loop.
    outcome = await run_in_threadpool(_check_and_store, request, user.requester_id, file.filename or "", content, cap)
    if isinstance(outcome, str):
        return render(request, "rewards/file_upload.html", {"errors": {"file": outcome}}, status_code=400)
    return RedirectResponse(f"/rewards/file/{outcome}", status_code=303)


@router.get("/rewards/file/{file_id}")
def preview_page(
    request: Request,
    file_id: str,
    user: PageUserDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    started: bool = False,
) -> Response:
    db = get_db(request)
    with db.transaction(write=False) as session:
        stored = bonus_files.get_file(session, user.requester_id, _file_id(file_id))
        try:
            result = bonus_files.preview(session, settings, user.requester_id, stored)
        except BonusFileError as exc:
            return render(request, "rewards/file_upload.html", {"errors": {"file": str(exc)}}, status_code=400)
        pages = max(1, -(-len(result.bad) // BAD_ROWS_PAGE))
        page = min(page, pages)
        context = {
            "file": stored,
            "preview": result,
            "bad_rows": result.bad[(page - 1) * BAD_ROWS_PAGE : page * BAD_ROWS_PAGE],
            "page": page,
            "pages": pages,
            "started": started,
            "operation": result.operation,
            "money": {
                "total": from_micros(result.total_micros),
                "fee": from_micros(result.fee_micros),
                "cost": from_micros(result.cost_micros),
                "balance": from_micros(result.balance_micros),
                "after": from_micros(result.balance_after_micros),
            },
            "fee_percent": settings.bonus_fee_percent,
        }
    return render(request, "rewards/file_preview.html", context)


@router.post("/rewards/file/{file_id}/pay")
def pay(request: Request, file_id: str, user: FormUserDep, settings: SettingsDep) -> Response:
    db = get_db(request)
    with db.transaction() as session:
        stored = bonus_files.get_file(session, user.requester_id, _file_id(file_id))
        _operation, started = bonus_files.do_pay(session, settings, user.requester_id, stored)
        url = f"/rewards/file/{stored.id}" + ("?started=1" if started else "")
    return RedirectResponse(url, status_code=303)


@router.get("/rewards/file/{file_id}/failed.csv")
def failed_csv(request: Request, file_id: str, user: PageUserDep, session: SessionDep) -> Response:
    """The file's failed rows are its operation's failed items: one CSV, the operation page's."""
    stored = bonus_files.get_file(session, user.requester_id, _file_id(file_id))
    operation = bonus_files.find_operation(session, user.requester_id, stored)
    if operation is None:
        raise DoesNotExist(f"File {stored.id} has not been paid")
    return RedirectResponse(f"/rewards/operations/{operation.public_id}/failed.csv", status_code=303)

"""Pay from a file: keep the uploaded CSV, preview it, pay its good rows once.

The preview runs the API's own checks (`service.check_batch`: the item shape, then the
Tolokers and assignments of the whole file in one pass each). Paying is one async
`POST /user-bonuses` (`service.do_create_bonuses`, `skip_invalid_items`) whose
`operation_id` is derived from the requester and the file's sha256: the same file paid
twice finds the operation of the first time and pays nothing more.

Each item carries its file line as `__line` (the API's checks ignore unknown keys; the
operation log keeps the item as sent), so failed items name their line in the failed CSV
(`rewards.operation_report`, the operation page's).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.errors import DoesNotExist
from crowdpost.kit.money import Priced
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import BonusFile, Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository, service
from crowdpost.rewards.bonus_file import ParsedFile, parse
from crowdpost.rewards.validation import ItemErrors

KEEP_FILES = timedelta(days=1)
LINE_KEY = "__line"
# A fixed namespace: operation ids of files stay the same across restarts and processes.
_NAMESPACE = uuid.UUID("6f1d6a52-3c55-4e4b-9a51-0b7c1f0e2a11")


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reasons: list[str]


@dataclass(slots=True)
class Preview(Priced):
    file: BonusFile
    operation_id: str
    good_count: int = 0
    total_micros: int = 0
    fee_micros: int = 0
    balance_micros: int = 0
    bad: list[BadRow] = field(default_factory=list)
    operation: Operation | None = None


def operation_id_of(requester_id: int, sha256: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"bonus-file:{requester_id}:{sha256}"))


def do_store(session: Session, requester_id: int, filename: str, content: bytes) -> BonusFile:
    """The file's row (the existing one for the same content), after pruning old files."""
    repository.delete_bonus_files_before(session, utcnow() - KEEP_FILES)
    digest = hashlib.sha256(content).hexdigest()
    found = repository.find_bonus_file(session, requester_id, digest)
    if found is not None:
        return found
    row = BonusFile(
        requester_id=requester_id,
        sha256=digest,
        filename=(filename or "bonuses.csv")[:255],
        size=len(content),
        content=content,
        created=utcnow(),
    )
    return repository.add_bonus_file(session, row)


def get_file(session: Session, requester_id: int, file_id: int) -> BonusFile:
    found = repository.get_bonus_file(session, requester_id, file_id)
    if found is None:
        raise DoesNotExist(f"File {file_id} does not exist")
    return found


def _items(parsed: ParsedFile) -> list[dict[str, Any]]:
    return [{**row.item, LINE_KEY: row.line} for row in parsed.rows]


# API messages reworded for a file's cells, by error code.
_FILE_WORDING = {"FLOAT_EXPECTED": "amount must be a number such as 1.50"}


def reasons(errors: ItemErrors) -> list[str]:
    """An item's field errors as sentences, one per field (the preview and the failed CSV)."""
    shown = {"public_title": "title", "public_message": "message"}
    out = []
    for name, problem in errors.items():
        message = problem.get("message") if isinstance(problem, dict) else str(problem)
        if isinstance(problem, dict) and problem.get("code") in _FILE_WORDING:
            # The API speaks of JSON; a spreadsheet's cell has no JSON type.
            message = _FILE_WORDING[problem["code"]]
        label = shown.get(name, name)
        # The API's messages often start with the field's name already ("amount must be ...").
        out.append(str(message) if str(message).startswith(name) else f"{label}: {message}")
    return out


def find_operation(session: Session, requester_id: int, file: BonusFile) -> Operation | None:
    public_id = operation_id_of(requester_id, file.sha256)
    try:
        return operations.get_operation(session, requester_id, public_id)
    except DoesNotExist:
        return None


def preview(session: Session, settings: Settings, requester_id: int, file: BonusFile) -> Preview:
    """Bad rows with their reasons, and what the good rows cost. Writes nothing.
    Raises BonusFileError when the stored file cannot be read as a whole."""
    parsed = parse(file.content)
    result = Preview(file=file, operation_id=operation_id_of(requester_id, file.sha256))
    result.operation = find_operation(session, requester_id, file)
    rules = service.rules_from(settings)
    checked = service.check_batch(session, requester_id, enumerate(_items(parsed)), rules, None)
    bad = {line: [reason] for line, reason in parsed.problems.items()}
    for index, errors in checked.errors.items():
        bad[parsed.rows[index].line] = reasons(errors)
    result.bad = [BadRow(line, why) for line, why in sorted(bad.items())]
    result.good_count = len(checked.drafts)
    result.total_micros = sum(d.amount_micros for d in checked.drafts)
    result.fee_micros = service.fee_of(result.total_micros, rules)
    result.balance_micros = repository.get_balance(session, requester_id)
    return result


def do_pay(session: Session, settings: Settings, requester_id: int, file: BonusFile) -> tuple[Operation, bool]:
    """Starts the file's operation: (operation, started now). An operation of the same
    file found instead pays nothing (False)."""
    existing = find_operation(session, requester_id, file)
    if existing is not None:
        return existing, False
    parsed = parse(file.content)
    request = service.BonusRequest(
        async_mode=True, skip_invalid_items=True, operation_id=operation_id_of(requester_id, file.sha256)
    )
    try:
        answer = service.do_create_bonuses(session, settings, requester_id, _items(parsed), request)
    except operations.OperationAlreadyExists:
        # Another request paid the same file meanwhile (the unique key decided).
        found = find_operation(session, requester_id, file)
        assert found is not None
        return found, False
    assert isinstance(answer, service.BatchAccepted)
    return answer.operation, True

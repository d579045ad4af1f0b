"""Realistic demo data, created once: a requester with money, projects, pools, 300 Tolokers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdpost.accounts.service import do_create_requester
from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN, hash_token
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import ApiToken, Pool, Project, Requester
from crowdpost.workforce.schemas import AssignmentIn, TolokerIn
from crowdpost.workforce.service.imports import do_import_assignments, do_import_tolokers

__all__ = ["DEMO_REQUESTER_TOKEN", "DEMO_TOLOKER_ID", "DEMO_TOLOKER_TOKEN", "DemoSummary", "do_load_demo"]

DEMO_EMAIL = "demo@crowdpost.local"
# DEMO_REQUESTER_TOKEN and DEMO_TOLOKER_TOKEN (crowdpost.accounts.tokens) are fixed and
# published so `make run` can always print working ones; they work only in development on
# loopback: `serve` and `demo` refuse anything else (crowdpost.accounts.exposure), and a
# revoked one stays revoked when the demo is loaded again.
DEMO_TOLOKER_ID = "demo0000000000000000000000000001"

COUNTRIES = {
    "RU": ["RU"],
    "GB": ["EN"],
    "US": ["EN"],
    "TR": ["TR", "EN"],
    "ID": ["ID", "EN"],
    "FR": ["FR", "EN"],
}


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    requester_id: int
    requester_token: str
    toloker_id: str
    toloker_token: str


def _tolokers(rng: random.Random, count: int) -> list[TolokerIn]:
    people = []
    for i in range(count):
        country = rng.choice(list(COUNTRIES))
        languages = list(COUNTRIES[country])
        if rng.random() < 0.2:
            languages.append(rng.choice(["EN", "RU", "FR", "TR", "ID"]))
        mobile = rng.random() < 0.55
        people.append(
            TolokerIn.model_validate(
                {
                    "id": f"demo{i + 1:028d}",  # the first is DEMO_TOLOKER_ID
                    "languages": languages,
                    "country": country,
                    "citizenship": country if rng.random() < 0.9 else rng.choice(list(COUNTRIES)),
                    "city": rng.choice([213, 2, 54, 11316, 10393, 10502]),
                    "gender": rng.choice(["MALE", "FEMALE"]),
                    "date_of_birth": rng.randint(0, 1_100_000_000),
                    "education": rng.choice(["BASIC", "MIDDLE", "HIGH"]),
                    "adult_allowed": rng.random() < 0.7,
                    "verified": rng.random() < 0.3,
                    "region_by_phone": rng.choice([225, 187, 983, 10277]),
                    "region_by_ip": rng.choice([225, 187, 983, 10277]),
                    "client_type": "TOLOKA_APP" if mobile and rng.random() < 0.6 else "BROWSER",
                    "os_family": rng.choice(["ANDROID", "IOS"])
                    if mobile
                    else rng.choice(["WINDOWS", "MAC_OS", "LINUX"]),
                    "os_version": f"{rng.randint(9, 17)}.{rng.randint(0, 4)}.{rng.randint(0, 9)}",
                    "device_category": "SMARTPHONE" if mobile else "PERSONAL_COMPUTER",
                    "user_agent_type": "MOBILE_BROWSER" if mobile else "BROWSER",
                    "browser": rng.choice(["CHROME", "FIREFOX", "SAFARI", "YANDEX_BROWSER"]),
                }
            )
        )
    return people


def _ensure_token(
    session: Session, token: str, *, requester_id: int | None = None, toloker_id: str | None = None
) -> None:
    digest = hash_token(token)
    if session.execute(select(ApiToken.id).where(ApiToken.token_hash == digest)).first() is None:
        role = "REQUESTER" if requester_id is not None else "TOLOKER"
        session.add(
            ApiToken(
                token_hash=digest,
                role=role,
                requester_id=requester_id,
                toloker_id=toloker_id,
                created=utcnow(),
            )
        )


def do_load_demo(session: Session, seed: int = 20261123) -> DemoSummary:
    existing = session.execute(select(Requester).where(Requester.email == DEMO_EMAIL)).scalar_one_or_none()
    if existing is not None:
        _ensure_token(session, DEMO_REQUESTER_TOKEN, requester_id=existing.id)
        _ensure_token(session, DEMO_TOLOKER_TOKEN, toloker_id=DEMO_TOLOKER_ID)
        return DemoSummary(False, existing.id, DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_ID, DEMO_TOLOKER_TOKEN)

    rng = random.Random(seed)
    requester = do_create_requester(
        session,
        public_name={"EN": "Demo Labs", "RU": "Демо Лабс"},
        company="Demo Labs Ltd",
        email=DEMO_EMAIL,
        balance=Decimal("1000.00"),
    ).requester
    _ensure_token(session, DEMO_REQUESTER_TOKEN, requester_id=requester.id)
    now = utcnow()
    projects = [
        Project(
            requester_id=requester.id,
            public_name=name,
            status="ACTIVE",
            created=now,
            spec={
                "public_description": desc,
                "task_spec": {"input_spec": {}, "output_spec": {}, "view_spec": {"type": "tb"}},
            },
        )
        for name, desc in [
            ("Street sign transcription", "Type the text you see on street signs"),
            ("Product review sentiment", "Is this review positive, negative or neutral?"),
        ]
    ]
    session.add_all(projects)
    session.flush()
    pools = [
        Pool(
            requester_id=requester.id,
            project_id=projects[0].id,
            private_name="Signs — main",
            status="OPEN",
            created=now,
            last_started=now,
            spec={"reward_per_assignment": 0.05, "may_contain_adult_content": False},
        ),
        Pool(
            requester_id=requester.id,
            project_id=projects[0].id,
            private_name="Signs — exam",
            status="CLOSED",
            created=now,
            spec={"reward_per_assignment": 0.02, "may_contain_adult_content": False},
        ),
        Pool(
            requester_id=requester.id,
            project_id=projects[1].id,
            private_name="Reviews — RU/EN",
            status="OPEN",
            created=now,
            last_started=now,
            spec={"reward_per_assignment": 0.03, "may_contain_adult_content": False},
        ),
    ]
    session.add_all(pools)
    session.flush()

    people = _tolokers(rng, 300)
    do_import_tolokers(session, people)
    _ensure_token(session, DEMO_TOLOKER_TOKEN, toloker_id=DEMO_TOLOKER_ID)

    statuses = [
        "ACTIVE",
        "SUBMITTED",
        "ACCEPTED",
        "ACCEPTED",
        "ACCEPTED",
        "REJECTED",
        "EXPIRED",
        "SKIPPED",
    ]
    assignments = []
    for person in people:
        for _ in range(rng.choice([0, 1, 2, 2, 3, 5]) if person.id != DEMO_TOLOKER_ID else 3):
            status = rng.choice(statuses)
            created = now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 1440))
            submitted = (
                created + timedelta(minutes=rng.randint(1, 30))
                if status in ("SUBMITTED", "ACCEPTED", "REJECTED")
                else None
            )
            reviewed = submitted + timedelta(hours=rng.randint(1, 48)) if submitted and status != "SUBMITTED" else None
            assignments.append(
                AssignmentIn.model_validate(
                    {
                        "user_id": person.id,
                        "pool_id": format_id(rng.choice(pools).id),
                        "status": status,
                        "reward": "0.05",
                        "created": created,
                        "submitted": submitted,
                        "accepted": reviewed if status == "ACCEPTED" else None,
                        "rejected": reviewed if status == "REJECTED" else None,
                        "public_comment": "Wrong transcription" if status == "REJECTED" else None,
                    }
                )
            )
    do_import_assignments(session, assignments)
    return DemoSummary(True, requester.id, DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_ID, DEMO_TOLOKER_TOKEN)

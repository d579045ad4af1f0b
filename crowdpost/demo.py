"""Realistic demo data, created once: a requester with money, projects, pools, 300 Tolokers,
and six weeks of messages that fill every folder of the Messages page.

The requester (`demo@crowdpost.local`, password `DEMO_PASSWORD`) runs an image-labeling
project (street signs) and a search-relevance one. Their story is played through the same
services the API calls: sends to chosen Tolokers, to filtered groups and to everyone,
Tolokers' replies and the requester's answers, appeals (one close to its deadline, one
settled), the operator's news, pool-closed and operation-finished notifications, and
bonuses paid with messages (one synchronous, one asynchronous batch run to its end).

Services stamp what they write with the present time; `_Story.at` moves what one step
wrote back to the moment the story gives it, so lists look lived in. Steps run in time
order, so ids and dates agree (lists page by id).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session

from crowdpost.accounts.exposure import DEMO_PASSWORD
from crowdpost.accounts.passwords import do_set_password
from crowdpost.accounts.service import do_create_requester
from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN, hash_token
from crowdpost.config import Settings, get_settings
from crowdpost.kit.ids import format_id
from crowdpost.kit.language_list import speaks
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import folders, platform, service, toloker_service
from crowdpost.messaging.repository import Participant
from crowdpost.messaging.schemas import ComposeForm, Folder, PlatformMessageForm
from crowdpost.models import (
    ApiToken,
    Assignment,
    Bonus,
    LedgerEntry,
    Message,
    MessageThread,
    Operation,
    Pool,
    Project,
    Requester,
    RequesterThread,
    Toloker,
    TolokerThread,
)
from crowdpost.models.bonus import BonusRequestCount
from crowdpost.models.job import Job, JobStatus
from crowdpost.models.message import MessageQuota, RecipientOutcome
from crowdpost.models.project import RequesterToloker
from crowdpost.rewards.service import STEP_JOB, BonusRequest, do_create_bonuses
from crowdpost.worker.registry import handler_for
from crowdpost.workforce.schemas import AssignmentIn, AssignmentPatch, SkillCreate, TolokerIn, UserSkillSet
from crowdpost.workforce.service.assignments import do_review_assignment
from crowdpost.workforce.service.imports import do_import_assignments, do_import_tolokers
from crowdpost.workforce.service.pools import do_set_pool_status
from crowdpost.workforce.service.skills import do_create_skill, do_set_user_skill

__all__ = [
    "DEMO_EMAIL",
    "DEMO_REQUESTER_TOKEN",
    "DEMO_TOLOKER_ID",
    "DEMO_TOLOKER_TOKEN",
    "DemoSummary",
    "do_load_demo",
]

DEMO_EMAIL = "demo@crowdpost.local"
# DEMO_REQUESTER_TOKEN and DEMO_TOLOKER_TOKEN (crowdpost.accounts.tokens) are fixed and
# published so `make run` can always print working ones; they work only in development on
# loopback: `serve` and `demo` refuse anything else (crowdpost.accounts.exposure), and a
# revoked one stays revoked when the demo is loaded again. DEMO_PASSWORD (same module as
# the refusals) is printed too and, like the tokens, signs in only in development.
DEMO_TOLOKER_ID = "demo0000000000000000000000000001"

COUNTRIES = {
    "RU": ["RU"],
    "GB": ["EN"],
    "US": ["EN"],
    "TR": ["TR", "EN"],
    "ID": ["ID", "EN"],
    "FR": ["FR", "EN"],
}
# How far back the requester's account, projects and pools go.
HISTORY = timedelta(days=60)


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    requester_id: int
    requester_token: str
    toloker_id: str
    toloker_token: str
    email: str = DEMO_EMAIL


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


def do_load_demo(session: Session, settings: Settings | None = None, seed: int = 20261123) -> DemoSummary:
    """The demo requester with everything around them; each part is made only when missing,
    so loading twice creates nothing twice (a demo database from before the messages gets
    them and the password on its next load)."""
    # Notifications and bonus messages come from event subscribers, the batch from a job
    # handler: register them as the app and the worker do (idempotent).
    from crowdpost.wiring import wire_domains

    wire_domains()
    settings = settings or get_settings()
    rng = random.Random(seed)
    requester = session.execute(select(Requester).where(Requester.email == DEMO_EMAIL)).scalar_one_or_none()
    created = requester is None
    if requester is None:
        requester = _create_workforce(session, rng)
    _ensure_token(session, DEMO_REQUESTER_TOKEN, requester_id=requester.id)
    _ensure_token(session, DEMO_TOLOKER_TOKEN, toloker_id=DEMO_TOLOKER_ID)
    has_threads = session.execute(
        select(RequesterThread.thread_id).where(RequesterThread.requester_id == requester.id).limit(1)
    ).first()
    if has_threads is None:
        _Story(session, settings, requester.id, rng).play()
        created = True
    if requester.password_hash is None:
        do_set_password(session, requester.id, DEMO_PASSWORD)
        created = True
    return DemoSummary(created, requester.id, DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_ID, DEMO_TOLOKER_TOKEN)


def _create_workforce(session: Session, rng: random.Random) -> Requester:
    """The requester, two projects with three pools, 300 Tolokers and their assignments."""
    requester = do_create_requester(
        session,
        public_name={"EN": "Demo Labs", "RU": "Демо Лабс"},
        company="Demo Labs Ltd",
        email=DEMO_EMAIL,
        balance=Decimal("1000.00"),
    ).requester
    now = utcnow()
    founded = now - HISTORY
    requester.created = founded
    session.execute(update(LedgerEntry).where(LedgerEntry.requester_id == requester.id).values(created=founded))
    projects = [
        Project(
            requester_id=requester.id,
            public_name=name,
            status="ACTIVE",
            created=founded,
            spec={
                "public_description": desc,
                "task_spec": {"input_spec": {}, "output_spec": {}, "view_spec": {"type": "tb"}},
            },
        )
        for name, desc in [
            ("Street sign transcription", "Type the text you see on street signs, every language on the sign"),
            ("Search relevance: online store", "How well does this product match the search query?"),
        ]
    ]
    session.add_all(projects)
    session.flush()
    pools = [
        Pool(
            requester_id=requester.id,
            project_id=project.id,
            private_name=name,
            status="OPEN",
            created=founded + timedelta(days=1),
            last_started=founded + timedelta(days=1),
            spec={"reward_per_assignment": reward, "may_contain_adult_content": False},
        )
        for project, name, reward in [
            (projects[0], "Signs — main", 0.05),
            (projects[0], "Signs — training", 0.02),
            (projects[1], "Relevance — EN", 0.03),
        ]
    ]
    session.add_all(pools)
    session.flush()

    people = _tolokers(rng, 300)
    do_import_tolokers(session, people)
    comments = {
        pools[0].id: "The transcription does not match the sign",
        pools[1].id: "Training answer differs from the reference",
        pools[2].id: "Ratings disagree with the control tasks",
    }
    statuses = ["ACTIVE", "SUBMITTED", "ACCEPTED", "ACCEPTED", "ACCEPTED", "REJECTED", "EXPIRED", "SKIPPED"]
    assignments = []
    for person in people:
        for _ in range(rng.choice([0, 1, 2, 2, 3, 5]) if person.id != DEMO_TOLOKER_ID else 3):
            status = rng.choice(statuses) if person.id != DEMO_TOLOKER_ID else "ACCEPTED"
            pool = rng.choice(pools)
            created = now - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
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
                        "pool_id": format_id(pool.id),
                        "status": status,
                        "reward": "0.05",
                        "created": created,
                        "submitted": submitted,
                        "accepted": reviewed if status == "ACCEPTED" else None,
                        "rejected": reviewed if status == "REJECTED" else None,
                        "public_comment": comments[pool.id] if status == "REJECTED" else None,
                    }
                )
            )
    do_import_assignments(session, assignments)
    return requester


# --- the story ---------------------------------------------------------------------------


class _Story:
    """Six weeks of the demo requester's messages, played through the services."""

    # Who plays which part (set by `play`).
    demo: str
    others: list[str]
    english: list[str]
    skill: str
    top: list[str]
    invited: list[str]

    def __init__(self, session: Session, settings: Settings, requester_id: int, rng: random.Random) -> None:
        self.session = session
        self.settings = settings
        self.requester_id = requester_id
        self.me = Participant.requester(requester_id)
        self.rng = rng
        self.now = utcnow()
        self.clock = self.now - HISTORY
        projects = session.execute(
            select(Project.id).where(Project.requester_id == requester_id).order_by(Project.id)
        ).scalars()
        self.signs_project, self.relevance_project = (format_id(p) for p in list(projects)[:2])
        pools = session.execute(select(Pool.id).where(Pool.requester_id == requester_id).order_by(Pool.id)).scalars()
        self.signs_pool, self.training_pool, self.relevance_pool = (format_id(p) for p in list(pools)[:3])
        # Who worked for the requester (DIRECT sends, skills, bonuses, appeals may name only them).
        self.workers = sorted(
            session.execute(
                select(RequesterToloker.user_id).where(
                    RequesterToloker.requester_id == requester_id, RequesterToloker.started_count >= 1
                )
            ).scalars()
        )
        self.host = service.public_host(settings)

    # --- time ----------------------------------------------------------------------------

    def ago(self, days: float, hours: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours)

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        """What the block writes happened at `when`: threads, messages, folder rows, outcomes, bonuses,
        ledger rows and operations get that time, and the sends and bonus requests it counted
        against today's quotas count on that day instead (so today's stay free to try)."""
        assert self.clock <= when < self.now, "steps must run in time order, in the past"
        self.clock = when
        session = self.session
        session.flush()
        high = {model: _high_id(session, model) for model in (MessageThread, Message, Bonus, LedgerEntry, Operation)}
        today = utcnow().date()
        counted = _daily_counts(session, self.requester_id, today)
        yield
        session.flush()
        for model in (MessageThread, Message, Bonus, LedgerEntry):
            session.execute(update(model).where(model.id > high[model]).values(created=when))
        for state in (RequesterThread, TolokerThread, RecipientOutcome):
            # Outcomes too: the bulk cap counts a week of them back from today, as it would
            # have counted a month of real history (not every demo send as sent just now).
            session.execute(update(state).where(state.thread_id > high[MessageThread]).values(created=when))
        for operation in session.execute(select(Operation).where(Operation.id > high[Operation])).scalars():
            operation.submitted = when
            operation.started = when if operation.started else None
            operation.finished = when + timedelta(minutes=3) if operation.finished else None
        _count_on(session, self.requester_id, today, when.date(), counted)
        session.flush()

    # --- actions (each through the service the API uses) ---------------------------------

    def send(
        self,
        when: datetime,
        topic: dict[str, str],
        text: dict[str, str],
        *,
        ids: list[str] | None = None,
        where: dict[str, Any] | None = None,
        answerable: bool = True,
    ) -> str:
        """A send to `ids` (DIRECT), to a filtered group (`where`: FILTER) or, with neither,
        to everyone who started at least two tasks (ALL). strict: the demo breaks no policy."""
        select_type = "DIRECT" if ids else "FILTER" if where else "ALL"
        form = ComposeForm(
            recipients_select_type=select_type,
            topic=topic,
            text=text,
            answerable=answerable,
            recipients_ids=ids,
            recipients_filter=where,
        )
        with self.at(when):
            thread = service.do_compose(self.session, self.settings, self.requester_id, form, strict=True)
        return str(thread["id"])

    def reply(self, when: datetime, user_id: str, thread_id: str, text: str, lang: str = "EN", *, read: bool) -> str:
        """A Toloker answers; the requester has read it by now unless `read` is false."""
        with self.at(when):
            landed = toloker_service.do_toloker_reply(self.session, user_id, thread_id, {lang: text})
        conversation = str(landed["id"])
        if read:
            self.mark(conversation, Folder.UNREAD, add=False)
        return conversation

    def answer(self, when: datetime, thread_id: str, text: str) -> None:
        with self.at(when):
            service.do_requester_reply(
                self.session, self.settings, self.requester_id, thread_id, {"EN": text}, strict=True
            )

    def mark(self, thread_id: str, folder: Folder, *, add: bool) -> None:
        folders.do_change_folders(self.session, self.me, thread_id, [folder], add=add)

    def news(self, when: datetime, topic: str, text: str, *, read: bool) -> str:
        """The operator's message to this requester (`POST /api/admin/v1/messages`)."""
        form = PlatformMessageForm(topic={"EN": topic}, text={"EN": text}, requester_ids=[format_id(self.requester_id)])
        with self.at(when):
            thread_id = str(platform.do_platform_message(self.session, form)["id"])
        if read:
            self.mark(thread_id, Folder.UNREAD, add=False)
        return thread_id

    def pool_status(self, when: datetime, pool_id: str, status: str) -> None:
        """Closing publishes PoolStatusChanged: the "Pool ... closed" notification."""
        with self.at(when):
            do_set_pool_status(self.session, self.requester_id, pool_id, status)

    def bonuses(self, when: datetime, operation_id: str, items: list[dict[str, Any]], *, batch: bool = False) -> None:
        """`POST /user-bonuses`: synchronous, or an async batch whose steps run here as the
        worker would run them (its end publishes OperationFinished: a notification)."""
        request = BonusRequest(async_mode=batch, operation_id=operation_id)
        with self.at(when):
            queued_before = _high_id(self.session, Job)
            do_create_bonuses(self.session, self.settings, self.requester_id, items, request)
            if batch:
                _run_steps(self.session, queued_before)

    def appeal(self, when: datetime, user_id: str, rejected: datetime, pool_id: str, text: str) -> str:
        """A Toloker appeals an assignment rejected at `rejected`. The service takes appeals
        only within 7 days of a rejection, counted from the real present: the assignment is
        rejected an hour ago, appealed, and then the whole of it, rejection and 9-day deadline
        together, is moved back to `rejected`."""
        recent = self.now - timedelta(hours=1)
        (row,) = do_import_assignments(
            self.session,
            [
                AssignmentIn.model_validate(
                    {
                        "user_id": user_id,
                        "pool_id": pool_id,
                        "status": "REJECTED",
                        "reward": "0.05",
                        "created": recent - timedelta(minutes=20),
                        "submitted": recent - timedelta(minutes=5),
                        "rejected": recent,
                        "public_comment": _REJECTIONS[pool_id == self.relevance_pool],
                    }
                )
            ],
        )
        assignment_id = format_id(row["id"])
        with self.at(when):
            thread_id = str(toloker_service.do_appeal(self.session, user_id, assignment_id, text)["id"])
        shift = rejected - recent
        assignment = self.session.get_one(Assignment, row["id"])
        assignment.created += shift
        assignment.submitted = (assignment.submitted or recent) + shift
        assignment.rejected = rejected
        thread = self.session.get_one(MessageThread, int(thread_id))
        assert thread.appeal_deadline is not None
        thread.appeal_deadline += shift
        # Now: the next service call may expire the session's objects before any query flushes them.
        self.session.flush()
        return thread_id

    def accept(self, when: datetime, thread_id: str, comment: str) -> None:
        """The requester accepts the appealed assignment (`PATCH /assignments/{id}`); the
        Toloker's appeal thread gets the system note."""
        thread = self.session.get_one(MessageThread, int(thread_id))
        assert thread.assignment_id is not None
        patch = AssignmentPatch.model_validate({"status": "ACCEPTED", "public_comment": comment})
        with self.at(when):
            row = do_review_assignment(self.session, self.requester_id, format_id(thread.assignment_id), patch)
            row.accepted = when

    # --- helpers --------------------------------------------------------------------------

    def pick(self, people: list[str], count: int) -> list[str]:
        return sorted(self.rng.sample(people, count))

    def recipients(self, thread_id: str) -> list[str]:
        rows = self.session.execute(
            select(TolokerThread.user_id)
            .where(TolokerThread.thread_id == int(thread_id))
            .order_by(TolokerThread.user_id)
        )
        return list(rows.scalars())

    def speaking(self, people: list[str], language: str) -> list[str]:
        rows = self.session.execute(
            select(Toloker.id)
            .where(Toloker.id.in_(people), speaks(Toloker.language_list, language))
            .order_by(Toloker.id)
        )
        return list(rows.scalars())

    def assignment_of(self, user_id: str) -> str | None:
        found = self.session.execute(
            select(Assignment.id)
            .where(Assignment.requester_id == self.requester_id, Assignment.user_id == user_id)
            .where(Assignment.status == "ACCEPTED")
            .order_by(Assignment.id)
            .limit(1)
        ).scalar_one_or_none()
        return format_id(found) if found is not None else None

    def link(self, project_id: str, label: str | None = None) -> str:
        url = f"https://{self.host}/tasks?projectId={project_id}"
        return f'<a href="{url}">{label or url}</a>'

    def accuracy_skill(self) -> str:
        """A hidden skill measured on control tasks, held by some of the Tolokers."""
        skill = do_create_skill(
            self.session,
            self.requester_id,
            SkillCreate(
                name="Sign transcription accuracy",
                hidden=True,
                public_name={"EN": "Sign transcription accuracy"},
                private_comment="Share of control signs typed exactly, last 50 tasks",
            ),
        )
        skill_id = format_id(skill.id)
        for user_id in self.pick(self.workers, min(90, len(self.workers))):
            value = Decimal(self.rng.choice([45, 52, 58, 66, 71, 77, 81, 84, 88, 92, 95, 98]))
            body = UserSkillSet(skill_id=skill_id, user_id=user_id, value=value, reason="control tasks")
            do_set_user_skill(self.session, self.requester_id, body)
        return skill_id

    # --- what happens ---------------------------------------------------------------------

    def play(self) -> None:
        others = [w for w in self.workers if w != DEMO_TOLOKER_ID]
        # The demo Toloker (whose token is printed) takes part: sends, replies, bonuses.
        self.demo = DEMO_TOLOKER_ID if DEMO_TOLOKER_ID in self.workers else others[0]
        self.others = others
        self.english = self.speaking(others, "EN")
        self.skill = self.accuracy_skill()
        self.first_weeks()
        self.middle_weeks()
        self.last_week()

    def first_weeks(self) -> None:
        """Six to three weeks ago: news, a welcome to all, an instruction update, a question
        answered, the relevance project's launch to the best transcribers."""
        demo, english, skill = self.demo, self.english, self.skill
        signs, relevance = self.signs_project, self.relevance_project
        self.news(
            self.ago(41, 3),
            "Messages to Tolokers: read the new guide",
            "<p>We published a short guide to writing to Tolokers. In brief:</p>"
            "<ul><li>keep <b>one topic per thread</b>, so answers stay together;</li>"
            "<li>link to tasks only in the form <i>https://" + self.host + "/tasks?projectId=&lt;ID&gt;</i>;</li>"
            "<li>never ask for phone numbers, messengers or e-mail addresses.</li></ul>",
            read=True,
        )

        welcome = self.send(
            self.ago(26, 6),
            {"EN": "Welcome to Demo Labs projects"},
            {
                "EN": "<p>Hello, and thank you for working on our tasks!</p>"
                "<p>We are <b>Demo Labs</b>: we transcribe street signs and rate search results for "
                "an online store. From now on we post instruction changes, new pools and training "
                "here.</p><p>You can answer any message that allows replies; we read every answer "
                "within a working day.</p>"
            },
        )
        everyone = self.recipients(welcome)
        second = self.speaking(everyone, "RU")[0]
        first = [u for u in self.speaking(everyone, "EN") if u != second][3]
        limit = self.reply(self.ago(26, 2), first, welcome, "Thanks! Is there a daily limit on sign tasks?", read=True)
        russian_batch = self.reply(
            self.ago(25, 20),
            second,
            welcome,
            "Спасибо, задания очень понятные. Будут ли вывески на русском?",
            "RU",
            read=True,
        )
        self.answer(
            self.ago(25, 18),
            limit,
            "No daily limit. A pool closes when its batch is done, usually within three days.",
        )
        self.answer(
            self.ago(25, 17),
            russian_batch,
            "Yes! A batch of Russian signs is planned for later this month; we will announce it here.",
        )

        asked = self.pick(english, 4)
        instructions = self.send(
            self.ago(24, 5),
            {"EN": "Instruction update: signs in two languages"},
            {
                "EN": "<p>We updated the instructions for <b>Street sign transcription</b>:</p><ol>"
                "<li>Type <b>every language</b> on the sign, top to bottom.</li>"
                "<li>Put each line on its own line; do not join lines with a slash.</li>"
                "<li>If part of the sign is hidden, type what you see and tick <i>Partly hidden</i>.</li>"
                "</ol><p>The updated instructions are on the project page: " + self.link(signs) + "</p>"
            },
            ids=[demo, *asked],
        )
        numbers = self.reply(
            self.ago(24, 3),
            demo,
            instructions,
            "Got it. What about signs with only numbers, like house numbers? Do I type them too?",
            read=True,
        )
        capitals = self.reply(
            self.ago(24, 1), asked[0], instructions, "Should I keep capital letters exactly as on the sign?", read=True
        )
        self.answer(
            self.ago(23, 20),
            numbers,
            "Yes, type the numbers exactly as shown: they count as text. The same for street names with numbers.",
        )
        self.reply(self.ago(23, 19), demo, numbers, "Thanks, clear now!", read=True)
        self.answer(self.ago(23, 18), capitals, "Yes, please keep the letters exactly as printed, capitals included.")
        self.mark(numbers, Folder.IMPORTANT, add=True)

        self.pool_status(self.ago(22, 4), self.training_pool, "CLOSED")

        invitation = self.send(
            self.ago(21, 6),
            {"EN": "Invitation: search relevance pool (English)"},
            {
                "EN": "<p>Your transcriptions are among our most accurate, so we invite you to a new "
                "project: <b>Search relevance: online store</b>.</p><p>You see a search query and a "
                "product card and choose <i>Relevant</i>, <i>Partly relevant</i> or <i>Not relevant</i>. "
                "A page of 5 tasks pays $0.03.</p><p>Start here: " + self.link(relevance) + "</p>"
            },
            where={
                "and": [
                    {"category": "skill", "key": skill, "operator": "GTE", "value": 80},
                    {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
                ]
            },
        )
        invited = self.invited = self.recipients(invitation)
        training_q = self.reply(
            self.ago(21, 3), invited[0], invitation, "Joined, the tasks are fun. Is there a training first?", read=True
        )
        spelling = self.reply(
            self.ago(21, 1),
            invited[1],
            invitation,
            "If the query is misspelled but the product is right, is it still Relevant?",
            read=True,
        )
        self.reply(self.ago(20, 22), invited[2], invitation, "Thank you for the invitation!", read=True)
        self.answer(self.ago(20, 20), training_q, "Yes: a training pool for relevance opens next week.")
        self.answer(
            self.ago(20, 19), spelling, "Yes. Judge what the person was looking for, not the spelling of the query."
        )

    def middle_weeks(self) -> None:
        """Three weeks to a week ago: bonuses, training, holidays, retraining, an appeal that
        was settled and a weekly bonus batch."""
        demo, skill = self.demo, self.skill
        signs, relevance = self.signs_project, self.relevance_project
        top = self.top = self.pick(self.others, 2)
        self.bonuses(
            self.ago(18, 5),
            "demo-bonus-accuracy-week-3",
            [
                {
                    "user_id": user_id,
                    "amount": Decimal(amount),
                    "assignment_id": self.assignment_of(user_id),
                    "private_comment": "top accuracy, week 3",
                    "public_title": {"EN": "Bonus for accurate transcriptions"},
                    "public_message": {
                        "EN": "Your sign transcriptions were 100% correct on our control tasks this week. Thank you!"
                    },
                }
                for user_id, amount in zip([demo, *top], ["2.00", "1.50", "1.50"], strict=True)
            ],
        )

        self.send(
            self.ago(16, 7),
            {"EN": "Training for search relevance is open"},
            {
                "EN": "<p>The training pool for <b>Search relevance</b> is open: 20 tasks with "
                "explanations, about 10 minutes.</p><ul>"
                "<li>Score <b>80% or more</b> to unlock the main pool.</li>"
                "<li>You can retry once after 24 hours.</li></ul>"
                "<p>" + self.link(relevance, "Open the project") + "</p>"
            },
            where={
                "and": [
                    {
                        "or": [
                            {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
                            {"category": "profile", "key": "country", "operator": "EQ", "value": "US"},
                        ]
                    },
                    {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
                ]
            },
            answerable=False,
        )

        maintenance = self.news(
            self.ago(14, 2),
            "Scheduled maintenance on Sunday, 02:00-03:00 UTC",
            "<p>Messaging and payments will be unavailable on <b>Sunday from 02:00 to 03:00 UTC</b>. "
            "Messages sent before then are delivered as usual; bonuses requested during the window "
            "are paid when it ends.</p>",
            read=True,
        )
        self.mark(maintenance, Folder.IMPORTANT, add=True)

        holidays = self.send(
            self.ago(12, 6),
            {"EN": "Holiday schedule: reviews may take up to 3 days"},
            {
                "EN": "<p>Our team is off on Monday and Tuesday. Assignments submitted then are reviewed "
                "by Thursday, and nothing expires in the meantime.</p><p>Thank you for your patience!</p>"
            },
        )
        self.reply(self.ago(12, 2), self.recipients(holidays)[17], holidays, "Have a good rest!", read=True)

        self.pool_status(self.ago(11, 7), self.training_pool, "OPEN")

        settled = self.appeal(
            self.ago(10, 2),
            top[1],
            self.ago(10, 20),
            self.signs_pool,
            "I typed exactly what is on the sign. The last letter is covered by a tree branch, "
            "so I ticked Partly hidden as the instructions say.",
        )
        retraining = self.send(
            self.ago(9, 22),
            {"EN": "Retraining: street sign transcription"},
            {
                "EN": "<p>Our checks show that some of your recent transcriptions missed parts of the sign. "
                "Please take the short training again before you continue:</p><ol>"
                "<li>Read the updated instructions (two languages, hidden parts).</li>"
                "<li>Complete the training pool: 15 tasks.</li>"
                "<li>Come back to the main pool once you score 80% or more.</li></ol>"
                "<p>" + self.link(signs, "Go to the training") + "</p>"
            },
            where={"and": [{"category": "skill", "key": skill, "operator": "LT", "value": 60}]},
        )
        retrained = self.recipients(retraining)
        self.reply(
            self.ago(9, 20),
            retrained[0],
            retraining,
            "I didn't know about the second language rule, sorry. Doing the training now.",
            read=True,
        )
        empty_pool = self.reply(
            self.ago(9, 8),
            retrained[1],
            retraining,
            "The training pool says there are no tasks available. Is it closed?",
            read=True,
        )
        self.answer(
            self.ago(9, 6), empty_pool, "Thanks for telling us: the pool had run out. We added 200 tasks, try again."
        )
        self.mark(empty_pool, Folder.IMPORTANT, add=True)
        self.accept(self.ago(9, 3), settled, "You were right: our control answer was wrong. Sorry!")
        self.mark(settled, Folder.UNREAD, add=False)

        weekly = self.pick(self.others, 24)
        self.bonuses(
            self.ago(8, 8),
            "demo-weekly-bonus-week-5",
            [
                {
                    "user_id": user_id,
                    "amount": Decimal("0.25"),
                    "public_title": {"EN": "Weekly bonus"},
                    "public_message": {"EN": "A small thank-you for more than 50 accepted tasks this week."},
                }
                for user_id in weekly
            ],
            batch=True,
        )
        self.mark_notifications_read()

    def last_week(self) -> None:
        """This week: an appeal close to its deadline, quality feedback, thanks with bonuses,
        the Russian batch, news, and yesterday's plan with replies still unread."""
        demo, english, top, invited = self.demo, self.english, self.top, self.invited
        signs = self.signs_project
        close = self.appeal(
            self.ago(7, 4),
            english[5],
            self.ago(7, 12),
            self.signs_pool,
            "The review says my answer was wrong, but the sign really says “Rue de la Paix”: "
            "the photo is blurred, yet the second line is readable. Please look again.",
        )
        self.mark(close, Folder.IMPORTANT, add=True)

        accents = self.send(
            self.ago(6, 5),
            {"EN": "Your transcriptions need a second look"},
            {
                "EN": "<p>Hello! In your last assignments accented letters were typed without accents "
                "(<i>é</i> as <i>e</i>, <i>ü</i> as <i>u</i>).</p><p>Please keep accents and other "
                "diacritics <b>exactly</b> as on the sign: our checks count them.</p>"
            },
            ids=self.pick(english[6:], 3),
        )
        self.reply(
            self.ago(5, 20),
            self.recipients(accents)[0],
            accents,
            "Sorry, my keyboard had no French layout. I have added it now and will redo the checks.",
            read=False,
        )
        self.demo_toloker_reads(demo)

        self.pool_status(self.ago(5, 2), self.training_pool, "CLOSED")

        thanked = [demo, *self.pick([w for w in english if w not in top], 2)]
        thanks = self.send(
            self.ago(4, 6),
            {"EN": "Thank you for a great week"},
            {"EN": "<p>You three did the most accurate work this week: thank you! A bonus is on its way.</p>"},
            ids=thanked,
        )
        self.bonuses(
            self.ago(4, 5),
            "demo-bonus-thanks-week-6",
            [
                {
                    "user_id": user_id,
                    "amount": Decimal("3.00"),
                    "public_title": {"EN": "Bonus: most accurate Tolokers of the week"},
                    "public_message": {
                        "EN": "Thank you for careful work on street signs. Keep it up!",
                        "RU": "Спасибо за аккуратную работу с вывесками!",  # noqa: RUF001 (Russian)
                    },
                }
                for user_id in thanked
            ],
        )
        self.reply(self.ago(4, 2), demo, thanks, "Thank you very much! Happy to help.", read=True)

        russian_signs = self.send(
            self.ago(3, 7),
            {"EN": "New: Russian street signs", "RU": "Новое: русские уличные вывески"},
            {
                "EN": "<p>As promised, the main pool now has <b>3,000 signs in Russian</b>. The same rules "
                "apply: every line, as printed.</p><p>" + self.link(signs) + "</p>",
                "RU": "<p>Как и обещали, в основном пуле теперь <b>3 000 вывесок на русском</b>. Правила те же: "
                "каждая строка, как написано.</p><p>" + self.link(signs) + "</p>",
            },
            where={
                "and": [
                    {"category": "profile", "key": "languages", "operator": "IN", "value": "RU"},
                    {"category": "profile", "key": "country", "operator": "EQ", "value": "RU"},
                ]
            },
        )
        self.reply(
            self.ago(2, 22),
            self.speaking(self.recipients(russian_signs), "RU")[1],
            russian_signs,
            "Отлично, уже начал. Вывески в старой орфографии вводить как есть, с буквой ѣ?",  # noqa: RUF001
            "RU",
            read=False,
        )

        relevance_appeal = self.appeal(
            self.ago(2, 9),
            invited[3],
            self.ago(2, 20),
            self.relevance_pool,
            "I chose Partly relevant because the query asks for a red phone case and the photo shows "
            "a dark orange one. Please check the control task again.",
        )
        self.answer(
            self.ago(2, 6),
            relevance_appeal,
            "Thanks for explaining. We are checking the control tasks and will answer before the deadline.",
        )

        self.news(
            self.ago(1, 23),
            "Bonus fees stay at 0% this quarter",
            "<p>No platform fee on bonuses until the end of the quarter. Bonuses you pay now reach "
            "Tolokers in full.</p>",
            read=False,
        )

        plan = self.send(
            self.ago(1, 5),
            {"EN": "Next week's plan"},
            {
                "EN": "<p>Next week:</p><ul>"
                "<li><b>Monday</b>: 5,000 new street signs in the main pool.</li>"
                "<li><b>Wednesday</b>: a second relevance pool with harder queries.</li></ul>"
                "<p>Questions? Reply to this message.</p>"
            },
        )
        readers = self.recipients(plan)
        self.reply(self.ago(0, 5), readers[8], plan, "Will the harder queries pay more?", read=False)
        self.reply(
            self.ago(0, 2), readers[21], plan, "Can I join the relevance pool without taking the training?", read=False
        )

    def mark_notifications_read(self) -> None:
        """The requester has seen the notifications so far."""
        folders.do_mark_all_read(self.session, self.me, Folder.AUTOMATIC_NOTIFICATION)

    def demo_toloker_reads(self, user_id: str) -> None:
        """The demo Toloker has read their messages so far (newer ones stay unread)."""
        folders.do_mark_all_read(self.session, Participant.toloker(user_id), None)


_REJECTIONS = {
    False: "The transcription does not match the sign",
    True: "Ratings disagree with the control tasks",
}


def _high_id(session: Session, model: Any) -> int:
    return int(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one())


# The per-day counters a step may add to, and their counting column: sends per kind (the
# messaging quotas) and `POST /user-bonuses` requests.
_DAILY_COUNTERS: dict[Any, str] = {MessageQuota: "used", BonusRequestCount: "count"}
Counts = dict[tuple[Any, tuple[Any, ...]], int]


def _daily_counts(session: Session, requester_id: int, day: date) -> Counts:
    """The requester's counters of `day`, by (model, primary key)."""
    found: Counts = {}
    for model, column in _DAILY_COUNTERS.items():
        for row in session.execute(select(model).where(model.requester_id == requester_id, model.day == day)).scalars():
            found[(model, inspect(row).identity)] = getattr(row, column)
    return found


def _count_on(session: Session, requester_id: int, today: date, day: date, before: Counts) -> None:
    """What a step added to today's counters, counted on `day` instead."""
    if day == today:
        return
    for (model, key), value in _daily_counts(session, requester_id, today).items():
        added = value - before.get((model, key), 0)
        if added <= 0:
            continue
        column = _DAILY_COUNTERS[model]
        names = [c.key for c in inspect(model).primary_key]
        moved = {**dict(zip(names, key, strict=True)), "day": day}
        target = session.get(model, tuple(moved[n] for n in names))
        if target is None:
            target = model(**moved, **{column: 0})
            session.add(target)
        current = session.get_one(model, key)
        setattr(target, column, getattr(target, column) + added)
        setattr(current, column, getattr(current, column) - added)
        if getattr(current, column) == 0:
            session.delete(current)
        session.flush()


def _run_steps(session: Session, after_job: int) -> None:
    """Runs the bonus steps queued after job `after_job` in this transaction, as the worker
    would (each step queues the next one until the operation ends); other jobs are left to it."""
    handler = handler_for(STEP_JOB)
    assert handler is not None, "wire_domains() registers the bonus step handler"
    while True:
        session.flush()
        job = session.execute(
            select(Job)
            .where(Job.id > after_job, Job.kind == STEP_JOB, Job.status == JobStatus.QUEUED)
            .order_by(Job.id)
            .limit(1)
        ).scalar_one_or_none()
        if job is None:
            return
        job.status, job.attempts = JobStatus.RUNNING, job.attempts + 1
        handler(session, dict(job.payload))
        job.status, job.finished = JobStatus.DONE, utcnow()

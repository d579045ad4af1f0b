"""`/api/v1`: skills, Toloker skills, bans, projects, pools, assignments and the
recipient dry-run, in Toloka's wire format (toloka-kit works unchanged)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from crowdpost.accounts.auth import RequesterDep
from crowdpost.dependencies import SessionDep, SettingsDep, read_only
from crowdpost.kit.list_query import PagingDep, time_ranges
from crowdpost.kit.pagination import TimeRanges, list_answer
from crowdpost.kit.routing import WireRoute, json_body
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.workforce import views
from crowdpost.workforce.schemas import (
    AssignmentPage,
    AssignmentPatch,
    AssignmentView,
    AudienceRequest,
    PoolPage,
    PoolView,
    ProjectPage,
    ProjectView,
    RecipientsCount,
    RecipientsCounted,
    RestrictionPage,
    RestrictionSet,
    RestrictionView,
    SkillCreate,
    SkillPage,
    SkillView,
    UserSkillPage,
    UserSkillSet,
    UserSkillView,
)
from crowdpost.workforce.service import assignments, pools, restrictions, skills
from crowdpost.workforce.service.audience import count_audience

router = APIRouter(route_class=WireRoute, tags=["workforce"])

_OBJECT_BODY = json_body({"type": "object"})


# ------------------------------------------------------------------------------------------------- skills


@router.post(
    "/skills", status_code=201, response_model=SkillView, summary="Create a skill (hidden unless hidden=false)"
)
def create_skill(caller: RequesterDep, session: SessionDep, body: SkillCreate) -> WireJSONResponse:
    return wire(views.skill_view(skills.do_create_skill(session, caller.requester_id, body)), status_code=201)


@router.get("/skills", response_model=SkillPage, summary="List your skills")
def find_skills(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    name: str | None = None,
    is_global: bool | None = Query(None, alias="global"),
) -> WireJSONResponse:
    items, more = skills.list_skills(session, caller.requester_id, paging, name=name, is_global=is_global)
    return wire(list_answer(items, more, views.skill_view))


@router.get("/skills/{skill_id}", response_model=SkillView, summary="Get a skill")
def get_skill(caller: RequesterDep, session: SessionDep, skill_id: str) -> WireJSONResponse:
    return wire(views.skill_view(skills.get_skill(session, caller.requester_id, skill_id)))


@router.put(
    "/user-skills", response_model=UserSkillView, summary="Set a Toloker's skill value (0-100, fractional allowed)"
)
def set_user_skill(caller: RequesterDep, session: SessionDep, body: UserSkillSet) -> WireJSONResponse:
    return wire(views.user_skill_view(skills.do_set_user_skill(session, caller.requester_id, body)))


@router.get("/user-skills", response_model=UserSkillPage, summary="List Toloker skill values")
def find_user_skills(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    ranges: Annotated[TimeRanges, Depends(time_ranges("modified"))],
    user_id: str | None = None,
    skill_id: str | None = None,
) -> WireJSONResponse:
    items, more = skills.list_user_skills(
        session, caller.requester_id, paging, ranges, user_id=user_id, skill_id=skill_id
    )
    return wire(list_answer(items, more, views.user_skill_view))


@router.get("/user-skills/{user_skill_id}", response_model=UserSkillView, summary="Get a Toloker skill value")
def get_user_skill(caller: RequesterDep, session: SessionDep, user_skill_id: str) -> WireJSONResponse:
    return wire(views.user_skill_view(skills.get_user_skill(session, caller.requester_id, user_skill_id)))


@router.delete("/user-skills/{user_skill_id}", status_code=204, summary="Remove a skill from a Toloker")
def delete_user_skill(caller: RequesterDep, session: SessionDep, user_skill_id: str) -> Response:
    skills.do_delete_user_skill(session, caller.requester_id, user_skill_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------- bans


@router.put(
    "/user-restrictions",
    response_model=RestrictionView,
    responses={201: {"model": RestrictionView, "description": "A new ban"}},
    summary="Ban a Toloker (ALL_PROJECTS, PROJECT or POOL; optional will_expire)",
)
def set_user_restriction(caller: RequesterDep, session: SessionDep, body: RestrictionSet) -> WireJSONResponse:
    row, created = restrictions.do_set_restriction(session, caller.requester_id, body)
    return wire(views.restriction_view(row), status_code=201 if created else 200)


@router.get("/user-restrictions", response_model=RestrictionPage, summary="List active bans")
def find_user_restrictions(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    scope: str | None = None,
    user_id: str | None = None,
    project_id: str | None = None,
    pool_id: str | None = None,
) -> WireJSONResponse:
    items, more = restrictions.list_restrictions(
        session, caller.requester_id, paging, scope=scope, user_id=user_id, project_id=project_id, pool_id=pool_id
    )
    return wire(list_answer(items, more, views.restriction_view))


@router.get("/user-restrictions/{restriction_id}", response_model=RestrictionView, summary="Get an active ban")
def get_user_restriction(caller: RequesterDep, session: SessionDep, restriction_id: str) -> WireJSONResponse:
    row = restrictions.get_restriction(session, caller.requester_id, restriction_id)
    return wire(views.restriction_view(row))


@router.delete("/user-restrictions/{restriction_id}", status_code=204, summary="Lift a ban")
def delete_user_restriction(caller: RequesterDep, session: SessionDep, restriction_id: str) -> Response:
    restrictions.do_delete_restriction(session, caller.requester_id, restriction_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------- projects


@router.post(
    "/projects", status_code=201, response_model=ProjectView, summary="Create a project", openapi_extra=_OBJECT_BODY
)
def create_project(caller: RequesterDep, session: SessionDep, body: Any = Body(...)) -> WireJSONResponse:
    return wire(views.project_view(pools.do_create_project(session, caller.requester_id, body)), status_code=201)


@router.get("/projects", response_model=ProjectPage, summary="List projects")
def find_projects(
    caller: RequesterDep, session: SessionDep, paging: PagingDep, status: str | None = None
) -> WireJSONResponse:
    items, more = pools.list_projects(session, caller.requester_id, paging, status=status)
    return wire(list_answer(items, more, views.project_view))


@router.get("/projects/{project_id}", response_model=ProjectView, summary="Get a project")
def get_project(caller: RequesterDep, session: SessionDep, project_id: str) -> WireJSONResponse:
    return wire(views.project_view(pools.get_project(session, caller.requester_id, project_id)))


# ------------------------------------------------------------------------------------------------- pools


@router.post(
    "/pools", status_code=201, response_model=PoolView, summary="Create a pool (closed)", openapi_extra=_OBJECT_BODY
)
def create_pool(caller: RequesterDep, session: SessionDep, body: Any = Body(...)) -> WireJSONResponse:
    return wire(views.pool_view(pools.do_create_pool(session, caller.requester_id, body)), status_code=201)


@router.get("/pools", response_model=PoolPage, summary="List pools")
def find_pools(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    ranges: Annotated[TimeRanges, Depends(time_ranges("last_started"))],
    status: str | None = None,
    project_id: str | None = None,
) -> WireJSONResponse:
    items, more = pools.list_pools(session, caller.requester_id, paging, ranges, status=status, project_id=project_id)
    return wire(list_answer(items, more, views.pool_view))


@router.get("/pools/{pool_id}", response_model=PoolView, summary="Get a pool")
def get_pool(caller: RequesterDep, session: SessionDep, pool_id: str) -> WireJSONResponse:
    return wire(views.pool_view(pools.get_pool(session, caller.requester_id, pool_id)))


@router.post("/pools/{pool_id}/open", status_code=204, summary="Open a pool (done when the answer arrives)")
def open_pool(caller: RequesterDep, session: SessionDep, pool_id: str) -> Response:
    pools.do_set_pool_status(session, caller.requester_id, pool_id, "OPEN")
    return Response(status_code=204)


@router.post("/pools/{pool_id}/close", status_code=204, summary="Close a pool (done when the answer arrives)")
def close_pool(caller: RequesterDep, session: SessionDep, pool_id: str) -> Response:
    pools.do_set_pool_status(session, caller.requester_id, pool_id, "CLOSED")
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------- assignments


@router.get("/assignments", response_model=AssignmentPage, summary="List assignments")
def find_assignments(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    ranges: Annotated[TimeRanges, Depends(time_ranges(*views.ASSIGNMENT_TIME_FIELDS))],
    status: str | None = Query(None, description="Comma-separated statuses"),
    pool_id: str | None = None,
    user_id: str | None = None,
    task_suite_id: str | None = None,
    task_id: str | None = None,
) -> WireJSONResponse:
    items, more = assignments.list_assignments(
        session,
        caller.requester_id,
        paging,
        ranges,
        status=status,
        pool_id=pool_id,
        user_id=user_id,
        task_suite_id=task_suite_id,
        task_id=task_id,
    )
    return wire(list_answer(items, more, views.assignment_view))


@router.get("/assignments/{assignment_id}", response_model=AssignmentView, summary="Get an assignment")
def get_assignment(caller: RequesterDep, session: SessionDep, assignment_id: str) -> WireJSONResponse:
    return wire(views.assignment_view(assignments.get_assignment(session, caller.requester_id, assignment_id)))


@router.patch("/assignments/{assignment_id}", response_model=AssignmentView, summary="Accept or reject an assignment")
def review_assignment(
    caller: RequesterDep, session: SessionDep, assignment_id: str, body: AssignmentPatch
) -> WireJSONResponse:
    row = assignments.do_review_assignment(session, caller.requester_id, assignment_id, body)
    return wire(views.assignment_view(row))


# ------------------------------------------------------------------------------------------------- audiences


_AUDIENCE_RULES = """
- `ALL`: Tolokers who started at least `CROWDPOST_ALL_RECIPIENTS_MIN_STARTED` (default 2) of your tasks.
- `FILTER`: Tolokers who started at least one of your tasks and match `recipients_filter`
  (Toloka filter JSON: `and`/`or` groups to any depth, leaves `{category, key, operator, value}`;
  at most 10,000 characters).
- `DIRECT`: the given ids that are Tolokers who started at least one of your tasks; the others
  are reported in `unknown_ids`.
- Any active ban you set (not lifted, `will_expire` empty or in the future), whatever its scope,
  leaves the Toloker out; they are counted in `excluded.banned`.

Filter semantics: `NE`/`NOT_IN` are the exact complements of `EQ`/`IN`, so a Toloker whose value
is unknown matches `NE` and never `EQ`; `GT`/`GTE`/`LT`/`LTE` need a value. A skill condition with
`value: null` and `EQ` means "has no value for this skill" (`NE`: has one); values past the
skill's TTL count as unset; only your own skills are visible. `UNKNOWN` as the value of an
enumerated computed key means "not detected". A bad filter is a 400 `VALIDATION_ERROR` whose
payload names the path, e.g. `recipients_filter.and.1.or.0.value`.

Categories: Toloka's `skill`, `profile` and `computed`, and ours, `assignment` (audiences by
participation, no hidden-skill workaround needed):
`{"category": "assignment", "key": "pool_id" | "project_id", "operator": "EQ" | "NE" | "IN" | "NOT_IN",
"value": "12" | ["12", "13"], "status": ["ACCEPTED", ...], "min_count": 1, "since": "2026-11-01T00:00:00"}`.
`EQ`/`IN` select Tolokers with at least `min_count` (default 1) of your assignments in the given
pools, or in the pools of the given projects, counted together; `status` (optional, any of
`ACTIVE SUBMITTED ACCEPTED REJECTED EXPIRED SKIPPED`) keeps only those statuses; `since`
(optional, UTC unless it carries an offset) only assignments created at or after it.
`NE`/`NOT_IN` mean "has no such assignments" (the exact complement). `EQ`/`NE` take one id,
`IN`/`NOT_IN` one or a list of up to 100. Another requester's pool or project selects nobody.
"""


@router.post(
    "/recipients/count",
    response_model=RecipientsCounted,
    summary="Dry run: how many Tolokers a DIRECT, FILTER or ALL message would reach, and who is left out",
    description=_AUDIENCE_RULES,
)
@read_only()
def count_recipients(
    caller: RequesterDep, session: SessionDep, settings: SettingsDep, body: RecipientsCount
) -> WireJSONResponse:
    req = AudienceRequest(
        requester_id=caller.requester_id,
        select_type=body.recipients_select_type,
        recipients_ids=body.recipients_ids,
        recipients_filter=body.recipients_filter,
    )
    counted = count_audience(session, req, min_started=settings.all_recipients_min_started)
    result = RecipientsCounted.model_validate(
        {
            "count": counted.count,
            "excluded": {"banned": counted.banned, "unknown": counted.unknown},
            "unknown_ids": counted.unknown_ids if req.select_type == "DIRECT" else None,
            "banned_ids": counted.banned_ids if req.select_type == "DIRECT" else None,
        }
    )
    return wire(result)

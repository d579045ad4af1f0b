"""ORM classes only, one module per aggregate. Importing this package registers every table."""

from crowdpost.models.base import Base
from crowdpost.models.job import Job
from crowdpost.models.project import Assignment, Pool, Project, RequesterToloker
from crowdpost.models.requester import ApiToken, LedgerEntry, Requester
from crowdpost.models.restriction import UserRestriction
from crowdpost.models.skill import Skill, UserSkill, UserSkillChange
from crowdpost.models.toloker import Toloker, TolokerLanguage

__all__ = [
    "ApiToken",
    "Assignment",
    "Base",
    "Job",
    "LedgerEntry",
    "Pool",
    "Project",
    "Requester",
    "RequesterToloker",
    "Skill",
    "Toloker",
    "TolokerLanguage",
    "UserRestriction",
    "UserSkill",
    "UserSkillChange",
]

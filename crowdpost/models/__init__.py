"""ORM classes only, one module per aggregate. Importing this package registers every table."""

from crowdpost.models.base import Base
from crowdpost.models.bonus import Bonus, BonusOperationChunk, BonusRequestCount
from crowdpost.models.job import Job
from crowdpost.models.message import Message, MessageQuota, MessageThread, RequesterThread, TolokerThread
from crowdpost.models.operation import Operation
from crowdpost.models.project import Assignment, Pool, Project, RequesterToloker
from crowdpost.models.requester import ApiToken, LedgerEntry, Requester, SignInFailure, WebSession
from crowdpost.models.restriction import UserRestriction
from crowdpost.models.skill import Skill, UserSkill, UserSkillChange
from crowdpost.models.toloker import Toloker, TolokerLanguage

__all__ = [
    "ApiToken",
    "Assignment",
    "Base",
    "Bonus",
    "BonusOperationChunk",
    "BonusRequestCount",
    "Job",
    "LedgerEntry",
    "Message",
    "MessageQuota",
    "MessageThread",
    "Operation",
    "Pool",
    "Project",
    "Requester",
    "RequesterThread",
    "RequesterToloker",
    "SignInFailure",
    "Skill",
    "Toloker",
    "TolokerLanguage",
    "TolokerThread",
    "UserRestriction",
    "UserSkill",
    "UserSkillChange",
    "WebSession",
]

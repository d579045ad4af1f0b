"""ORM classes only, one module per aggregate. Importing this package registers every table."""

from crowdpost.models.base import Base
from crowdpost.models.bonus import Bonus, BonusOperationChunk, BonusRequestCount
from crowdpost.models.bonus_file import BonusFile
from crowdpost.models.email import ServerSecret
from crowdpost.models.job import Job
from crowdpost.models.message import (
    Message,
    MessageQuota,
    MessageThread,
    RecipientOutcome,
    RequesterThread,
    TolokerThread,
)
from crowdpost.models.operation import Operation
from crowdpost.models.outbox import OutboxItem
from crowdpost.models.project import Assignment, Pool, Project, RequesterToloker
from crowdpost.models.requester import ApiToken, LedgerEntry, Requester, SignInFailure, WebSession
from crowdpost.models.restriction import UserRestriction
from crowdpost.models.skill import Skill, UserSkill, UserSkillChange
from crowdpost.models.toloker import Toloker, TolokerLanguage, TolokerWebSession
from crowdpost.models.webhook import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken",
    "Assignment",
    "Base",
    "Bonus",
    "BonusFile",
    "BonusOperationChunk",
    "BonusRequestCount",
    "Job",
    "LedgerEntry",
    "Message",
    "MessageQuota",
    "MessageThread",
    "Operation",
    "OutboxItem",
    "Pool",
    "Project",
    "RecipientOutcome",
    "Requester",
    "RequesterThread",
    "RequesterToloker",
    "ServerSecret",
    "SignInFailure",
    "Skill",
    "Toloker",
    "TolokerLanguage",
    "TolokerThread",
    "TolokerWebSession",
    "UserRestriction",
    "UserSkill",
    "UserSkillChange",
    "WebSession",
    "WebhookDelivery",
    "WebhookSubscription",
]

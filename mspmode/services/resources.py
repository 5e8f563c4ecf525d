"""One declaration per CRUD model: its URL, who may read and write it, what is derived.

Everything else — schemas, routes, filters, scoping, audit — is generated from these lines
(``api/crud.py``, ``schemas/crud.py``, ``services/crud.py``); the CLI and the other services
take their specs from here too (``SPECS["sessions"]``), so every way in writes alike. Tables
without a line here are internal bookkeeping (``audit_chain_head``, ``login_throttles``,
``auth_sessions``); a test keeps that list exact.
"""

from __future__ import annotations

from mspmode.models import (
    core,
    credentials,
    infrastructure,
    integrations,
    learning,
    operations,
    recall,
    recovery,
    work,
)
from mspmode.services import credentials as vault
from mspmode.services import work as work_rules
from mspmode.services.crud import ResourceSpec
from mspmode.services.learning import hosts as learning_hosts
from mspmode.services.learning import patterns as learning_rules

R = ResourceSpec
RESOURCES: list[ResourceSpec] = [
    # core
    R("clients", core.Client),
    R("projects", core.Project),
    R(
        "sessions",
        core.Session,
        read_only=frozenset({"billable_hours", "duration_minutes"}),
        actor_fields=frozenset({"user_id", "technician"}),
        prepare=work_rules.prepare_session,
    ),
    R("machines", core.Machine),
    R("pending-tasks", core.PendingTask),
    R("tags", core.Tag),
    R("session-tags", core.SessionTag),
    R("users", core.User, read_role="admin", write_role=None, hidden=frozenset({"failed_login_count"})),
    R("api-keys", core.ApiKey, read_role="admin", write_role=None),
    # infrastructure
    R("sites", infrastructure.Site),
    R("infrastructure", infrastructure.Infrastructure, prepare=learning_hosts.prepare_host),
    R("services", infrastructure.Service),
    R("service-relationships", infrastructure.ServiceRelationship),
    R("networks", infrastructure.Network),
    R("firewall-rules", infrastructure.FirewallRule),
    R("m365-tenants", infrastructure.M365Tenant),
    R("infrastructure-tags", infrastructure.InfrastructureTag),
    # work
    R(
        "work-items",
        work.WorkItem,
        read_only=frozenset({"category_inferred"}),
        prepare=work_rules.prepare_work_item,
        after_write=work_rules.after_work_item,
    ),
    R("work-item-tags", work.WorkItemTag),
    R("file-changes", work.FileChange),
    # recorded through the learning engine (routers/learning): POST /api/commands is its own
    R("commands", work.CommandRun, generic_create=False),
    R("infrastructure-changes", work.InfrastructureChange),
    R("deployments", work.Deployment),
    R("database-changes", work.DatabaseChange),
    # learning
    R("problem-solutions", learning.ProblemSolution),
    R("failure-patterns", learning.FailurePattern, prepare=learning_rules.prepare_pattern),
    R("environmental-insights", learning.EnvironmentalInsight),
    R("operation-failures", learning.OperationFailure),
    # recovery
    R("recovery-attempts", recovery.RecoveryAttempt),
    R("recovery-explanations", recovery.RecoveryExplanation),
    # credentials: reads are generic; writes and reveals go through the vault (routers/credentials)
    vault.CREDENTIALS,
    R("credential-audit-log", credentials.CredentialAuditLog, read_role="admin", write_role=None),
    R("security-incidents", credentials.SecurityIncident),
    # integrations
    R("external-integrations", integrations.ExternalIntegration, actor_fields=frozenset({"user_id"})),
    vault.INTEGRATION_CREDENTIALS,
    R("ticket-links", integrations.TicketLink),
    # queued and posted through services/psa.py: read here, never written by a caller
    R("psa-posts", integrations.PsaPost, write_role=None),
    # context recall
    R("conversation-contexts", recall.ConversationContext),
    R("context-snippets", recall.ContextSnippet),
    R("project-states", recall.ProjectState),
    R("decision-logs", recall.DecisionLog),
    # operations: written by the system only
    R("audit-log", operations.AuditLog, read_role="admin", write_role=None),
    R("backup-log", operations.BackupLog, read_role="admin", write_role=None),
]

SPECS: dict[str, ResourceSpec] = {spec.name: spec for spec in RESOURCES}

INTERNAL_TABLES = frozenset({"audit_chain_head", "login_throttles", "auth_sessions"})

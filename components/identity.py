"""Identities: the pools' user-assigned identity with least-privilege data roles, and the runner's access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, managedidentity

from components import roles


@dataclass(frozen=True)
class PoolIdentityArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    identity_name: str
    subscription: pulumi.Input[str]
    inputs_container_id: pulumi.Input[str]
    outputs_container_id: pulumi.Input[str]
    # the Batch account's auto-storage: nodes download application packages from its `app-*` containers
    storage_account_id: pulumi.Input[str]
    # container registries the pools pull from (ContainerRegistry.identityReference names this identity)
    registry_ids: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class PoolIdentity(pulumi.ComponentResource):
    """Tasks read inputs and write outputs, and nodes fetch application packages, through this identity."""

    def __init__(self, name: str, args: PoolIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:identity:PoolIdentity", name, None, opts)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-uai",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grants = (
            ("inputs-reader", args.inputs_container_id, roles.STORAGE_BLOB_DATA_READER, {}),
            ("outputs-contributor", args.outputs_container_id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR, {}),
            # Batch keeps application packages in containers it creates in auto-storage (app-<id>-<hash>)
            # and nodes download them as auto-storage's node identity, this one
            # (https://learn.microsoft.com/azure/batch/batch-application-packages). Those containers
            # do not exist yet, so: Reader on the account, limited by a condition to `app-*` containers.
            ("app-packages-reader", args.storage_account_id, roles.STORAGE_BLOB_DATA_READER,
             {"condition": roles.APP_PACKAGE_CONTAINERS_ONLY, "condition_version": "2.0"}),
            # nodes pull the pools' images as this identity: AcrPull on each registry, nothing wider
            # (https://learn.microsoft.com/azure/container-registry/container-registry-authentication-managed-identity)
            *((f"acr-pull-{rid.rsplit('/', 1)[1].lower()}", rid, roles.ACR_PULL, {}) for rid in args.registry_ids),
        )
        self._name, self._subscription = name, args.subscription
        self.role_assignments = {suffix: self._grant(suffix, scope, role, condition)
                                 for suffix, scope, role, condition in grants}
        self.resource_id = self.identity.id
        self.principal_id = self.identity.principal_id
        self.client_id = self.identity.client_id
        self.register_outputs({"resource_id": self.resource_id, "client_id": self.client_id})

    def _grant(self, suffix: str, scope: pulumi.Input[str], role: str,
               condition: Mapping[str, str]) -> authorization.RoleAssignment:
        return authorization.RoleAssignment(
            f"{self._name}-{suffix}",
            principal_id=self.identity.principal_id,
            # a new identity takes a while to replicate; the type spares the lookup that would fail
            principal_type="ServicePrincipal",
            role_definition_id=roles.role_definition_id(self._subscription, role),
            scope=scope,
            **condition,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def grant_job_submission(self, batch_account_id: pulumi.Input[str]) -> None:
        """A scheduled workload's runs are created empty: each run's job manager task adds the tasks as this
        identity, with a token from the node's IMDS (task authentication tokens were retired on 30 September
        2024; https://learn.microsoft.com/azure/batch/managed-identity-pools). Azure Batch Job Submitter on the
        account: jobs and job schedules, no pool or account writes. Declared once the account exists (the
        account itself needs this identity for auto-storage)."""
        self.role_assignments["batch-job-submitter"] = self._grant(
            "batch-job-submitter", batch_account_id, roles.BATCH_JOB_SUBMITTER, {})


@dataclass(frozen=True)
class RunnerAccessArgs:
    principal_id: str
    subscription: pulumi.Input[str]
    inputs_container_id: pulumi.Input[str]
    outputs_container_id: pulumi.Input[str]
    batch_account_id: pulumi.Input[str]


class RunnerAccess(pulumi.ComponentResource):
    """Roles of the identity that runs `bigcompute apply` (CI): upload inputs, submit jobs, read outputs and
    write each job's manifest into `outputs` (bigcompute/runner/download.py), hence Contributor there too.

    Separate from PoolIdentity because it needs the Batch account, which itself needs the pool identity.
    """

    def __init__(self, name: str, args: RunnerAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:identity:RunnerAccess", name, None, opts)
        grants = (
            ("inputs-contributor", args.inputs_container_id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
            ("outputs-contributor", args.outputs_container_id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
            ("batch-data-contributor", args.batch_account_id, roles.BATCH_DATA_CONTRIBUTOR),
        )
        self.role_assignments = {
            suffix: authorization.RoleAssignment(
                f"{name}-{suffix}",
                principal_id=args.principal_id,
                role_definition_id=roles.role_definition_id(args.subscription, role),
                scope=scope,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for suffix, scope, role in grants
        }
        self.register_outputs({"principal_id": args.principal_id})

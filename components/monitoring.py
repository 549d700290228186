"""Monitoring: a Log Analytics workspace receiving the Batch account's service logs and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor, operationalinsights


@dataclass(frozen=True)
class MonitoringArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    workspace_name: str
    batch_account_id: pulumi.Input[str]
    retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bigcompute:monitoring:Monitoring", name, None, opts)
        self.workspace = operationalinsights.Workspace(
            f"{name}-workspace",
            workspace_name=args.workspace_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.retention_days,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.diagnostics = monitor.DiagnosticSetting(
            f"{name}-batch-diagnostics",
            name="bigcompute-batch",
            resource_uri=args.batch_account_id,
            workspace_id=self.workspace.id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workspace_id = self.workspace.id
        self.register_outputs({"workspace_id": self.workspace_id})

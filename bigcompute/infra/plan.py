"""`infra plan`: run the program for a stack under mocks, collect its graph, check the policy rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcompute.config import ConfigError, StackConfig, load_stack
from bigcompute.infra import policy
from bigcompute.infra.graph import STACK_TYPE, Graph
from bigcompute.infra.mocks import SUBSCRIPTION, AzureMocks
from bigcompute.infra.review import physical_name, review
from bigcompute.infra.runtime import ProgramError, run_program
from bigcompute.project import NoProject, nearest

PROGRAM = "__main__.py"


@dataclass(frozen=True)
class Plan:
    config: StackConfig
    graph: Graph
    violations: list[policy.Violation]

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_json(self) -> dict[str, Any]:
        resources = []
        for depth, node in self.graph.walk():
            entry = node.as_json()
            entry["depth"] = depth
            entry["physicalName"] = physical_name(node) or None
            entry["review"] = dict(review(node))
            resources.append(entry)
        return {"project": self.graph.project, "stack": self.graph.stack, "stackFile": self.config.path,
                "outputs": dict(self.graph.outputs), "resources": resources,
                "violations": [v.as_json() for v in self.violations]}


def find_project(start: Path | None = None) -> Path:
    """The directory holding Pulumi.yaml and the program: the start folder or one of its parents."""
    origin, project = nearest(lambda f: (f / "Pulumi.yaml").is_file() and (f / PROGRAM).is_file(), start)
    if project is not None:
        return project
    # never the checkout this package lives in: another repository would be reviewed as "no changes"
    raise NoProject(f"no Pulumi project here: looked for Pulumi.yaml and {PROGRAM} in {origin} and each of its "
                    "parents; run from your project or pass --project-dir")


def policy_resources(graph: Graph) -> list[policy.Resource]:
    """Resources as the rules see them, the stack carrying the outputs (as CrossGuard presents it)."""
    out = [policy.Resource(n.urn, n.type, n.name, n.props, n.dependencies) for n in graph.resources() if n.custom]
    root = next((n for n in graph.nodes if n.type == STACK_TYPE), None)
    out.append(policy.Resource(root.urn if root else "", STACK_TYPE, root.name if root else graph.stack,
                               graph.outputs))
    return out


def signed_in_mocks(config: StackConfig) -> AzureMocks:
    """Mocks whose credentials are signed in to the subscription the stack names, as `pulumi up`'s must be."""
    return AzureMocks(config.subscription_id or SUBSCRIPTION)


def build_plan(stack: str, project_dir: Path | None = None) -> Plan:
    """Raises ConfigError for a bad stack file (located), ProgramError when the program fails otherwise."""
    project = project_dir or find_project()
    config = load_stack(project / "stacks" / f"Pulumi.{stack}.yaml")
    try:
        # simulates credentials signed in to the stack's subscription (the program refuses any other)
        graph = run_program(project / PROGRAM, stack, signed_in_mocks(config))
    except ProgramError as e:
        if isinstance(e.__cause__, ConfigError):
            raise e.__cause__ from None
        raise
    violations = policy.evaluate(policy_resources(graph), policy.PolicyContext.from_stack(config))
    return Plan(config, graph, violations)

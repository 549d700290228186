"""CrossGuard policy pack: bigcompute's rules (bigcompute/infra/policy.py), one stack policy per rule.

Each rule needs the stack's environment and allowances (prod, allowSpot, sharedKeyAccess). The pack reads
them from the stack file named in the resources' URNs, the same file the program deployed from; a stack
it cannot find is judged by the strictest standard.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from bigcompute.config import ConfigError, load_stack
from bigcompute.infra import policy

PROJECT_DIR = Path(__file__).absolute().parent.parent


@lru_cache(maxsize=8)
def context_for(stack: str) -> policy.PolicyContext:
    try:
        return policy.PolicyContext.from_stack(load_stack(stack, root=PROJECT_DIR))
    except ConfigError:
        return policy.STRICT


def stack_of(args: StackValidationArgs) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    urn = next((r.urn for r in args.resources if r.urn), "")
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def as_policy_resources(args: StackValidationArgs) -> list[policy.Resource]:
    return [policy.Resource(r.urn, r.resource_type, r.name, r.props, tuple(d.urn for d in r.dependencies or ()))
            for r in args.resources]


def wrap(rule: policy.Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        ctx = context_for(stack_of(args))
        for resource, message in rule.check(as_policy_resources(args), ctx):
            report_violation(message, resource.urn or None)

    return StackValidationPolicy(name=rule.id, description=rule.description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


PolicyPack(name="bigcompute", policies=[wrap(rule) for rule in policy.RULES],
           enforcement_level=EnforcementLevel.MANDATORY)

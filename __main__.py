"""The bigcompute Pulumi program: read the stack file, declare the platform, export the runner's contract.

`pulumi up --stack prod` runs it; `bigcompute infra plan --stack prod` runs it offline under mocks.
"""

from pathlib import Path

import pulumi

from bigcompute.config import ConfigError, load_stack
from components.platform import Platform, declare_platform


def main() -> Platform:
    # the same file the runner reads; loaded with line marks so a bad value fails before any resource exists
    stack_file = Path(__file__).absolute().parent / "stacks" / f"Pulumi.{pulumi.get_stack()}.yaml"
    try:
        stack = load_stack(stack_file)
        platform = declare_platform(stack)
    except ConfigError as e:
        raise pulumi.RunError(f"invalid stack file:\n{e}") from e
    for key, value in platform.outputs().items():
        pulumi.export(key, value)
    return platform


platform = main()

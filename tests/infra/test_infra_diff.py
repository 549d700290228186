"""Graph diffs (the base of `infra diff`): resizing a pool updates it, changing its VM size replaces it."""

from __future__ import annotations

import copy

from bigcompute.infra.diff import diff, leaves
from bigcompute.infra.graph import Graph
from bigcompute.infra.plan import build_plan

DEV_POOL = """\
    - name: cpu
      vmSize: {vm_size}
      image: ubuntu-24.04
      scale:
        fixed: {{dedicated: {dedicated}}}
"""


def _graph(project, stack_text, **pool):
    values = {"vm_size": "Standard_D2s_v5", "dedicated": 1, **pool}
    return build_plan("test", project(stack_text(pools=DEV_POOL.format(**values)))).graph


def test_same_stack_no_changes(stack_plans):
    graph = stack_plans("dev").graph
    assert diff(graph, graph) == []


def test_resize_updates_in_place_and_vm_size_replaces(project, stack_text):
    base = _graph(project, stack_text)
    resized = _graph(project, stack_text, dedicated=4)
    [change] = diff(base, resized)
    assert change.action == "update" and change.urn.endswith("::pool-cpu-pool")
    assert change.paths == ("scaleSettings.fixedScale.targetDedicatedNodes",)

    bigger = _graph(project, stack_text, vm_size="Standard_D8s_v5")
    [change] = diff(base, bigger)
    assert (change.action, change.replaced_by) == ("replace", ("vmSize",))


def test_added_pool_is_a_create(project, stack_text, fixed_pool):
    base = _graph(project, stack_text)
    two = build_plan("test", project(stack_text(pools=DEV_POOL.format(vm_size="Standard_D2s_v5", dedicated=1)
                                                + fixed_pool(name="gpu")))).graph
    created = {c.urn.rsplit("::", 1)[1] for c in diff(base, two) if c.action == "create"}
    assert created == {"pool-gpu", "pool-gpu-pool"}


def test_leaves_name_paths_like_pulumi():
    assert dict(leaves({"a": {"b": [1, {"c": 2}]}, "d": []})) == {"a.b[0]": 1, "a.b[1].c": 2, "d": []}


def test_a_new_pool_identity_updates_the_pool_in_place(project, stack_text):
    """Swapping the pool's identity must not replace (drain and delete) a live pool: Batch updates it."""
    base = _graph(project, stack_text)
    data = copy.deepcopy(base.as_json())
    pool = next(n for n in data["resources"] if n["type"] == "azure-native:batch:Pool")
    other = pool["inputs"]["identity"]["userAssignedIdentities"][0].replace("/userAssignedIdentities/",
                                                                           "/userAssignedIdentities/new-")
    pool["inputs"]["identity"]["userAssignedIdentities"] = [other]
    [change] = diff(base, Graph.from_json(data))
    assert change.action == "update" and change.urn.endswith("::pool-cpu-pool"), change
    assert change.paths == ("identity.userAssignedIdentities[0]",)

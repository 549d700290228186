"""`infra diff`'s explanation and rendering on small graphs built by hand (no Pulumi run): what replaces a
resource, what a reviewer sees of a new pool, and markdown that GitHub's tables do not break on."""

from __future__ import annotations

from bigcompute.infra.diff import explain, provider_replace_keys, render_markdown, render_text
from bigcompute.infra.graph import Graph, Node

POOL = "azure-native:batch:Pool"
STORAGE = "azure-native:storage:StorageAccount"
FORMULA = "minNodes = 0;\nmaxNodes = {max};\n$TargetDedicatedNodes = maxNodes;"


def node(type_: str, name: str, **inputs) -> Node:
    return Node(urn=f"urn:pulumi:t::bigcompute::{type_}::{name}", type=type_, name=name, parent=None, custom=True,
                inputs=inputs, outputs={"name": inputs.get("poolName") or inputs.get("accountName") or name},
                replace_on_changes=("vmSize",) if type_ == POOL else ())


def pool(name: str = "cpu", vm: str = "Standard_D2s_v5", max_nodes: int = 4, **extra) -> Node:
    return node(POOL, f"pool-{name}-pool", poolName=name, accountName="bcacct", resourceGroupName="rg", vmSize=vm,
                scaleSettings={"autoScale": {"evaluationInterval": "PT5M", "formula": FORMULA.format(max=max_nodes)}},
                **extra)


def graph(*nodes: Node) -> Graph:
    return Graph("bigcompute", "t", nodes)


def test_moving_or_renaming_an_azure_resource_replaces_it():
    account = node(STORAGE, "storage-account", accountName="st1", resourceGroupName="rg", location="westeurope",
                   sku={"name": "Standard_LRS"})
    assert provider_replace_keys(account) == {"accountName", "resourceGroupName", "location"}
    moved = node(STORAGE, "storage-account", accountName="st1", resourceGroupName="rg", location="northeurope",
                 sku={"name": "Standard_ZRS"})
    [change] = explain(graph(account), graph(moved), "base", "head").resources
    assert change.action == "replace" and change.replaced_by == ("location",)
    assert [(p.path, p.replaces) for p in change.properties] == [("location", True), ("sku.name", False)]


def test_a_new_pool_shows_what_it_is():
    result = explain(graph(), graph(pool(max_nodes=6)), "main", "working tree")
    text = render_text(result)
    assert "+   create   batch:Pool pool-cpu-pool (cpu)" in text
    assert "      vm size: Standard_D2s_v5" in text
    assert "      scale: autoscale every PT5M" in text
    assert "        +maxNodes = 6;" in text  # the whole formula, as added lines


def test_markdown_escapes_pipes_and_marks_forced_replacement():
    base = graph(pool(metadata=[{"name": "a", "value": "x|y"}]))
    head = graph(pool(vm="Standard_D4s_v5", max_nodes=8, metadata=[{"name": "a", "value": "x||y"}]))
    md = render_markdown(explain(base, head, "main", "working tree"))
    assert "| `metadata[0].value` | `x\\|y` | `x\\|\\|y` |" in md
    assert "| `vmSize` **(forces replacement)** | `Standard_D2s_v5` | `Standard_D4s_v5` |" in md
    assert "| -/+ | `pool-cpu-pool` | batch:Pool | replace (forced by `vmSize`) |" in md
    assert "```diff\n@@ -1,3 +1,3 @@\n minNodes = 0;\n-maxNodes = 4;\n+maxNodes = 8;\n $TargetDedicatedNodes" in md


def test_nothing_changed():
    same = graph(pool())
    assert render_text(explain(same, same, "main", "working tree")).endswith(
        "no changes: the stack declares the same resources and properties\n")
    assert "**no changes**" in render_markdown(explain(same, same, "main", "working tree"))


def test_a_pull_request_comment_leads_with_the_change_and_folds_the_resources():
    result = explain(graph(pool(max_nodes=4)), graph(pool(max_nodes=8)), "main", "working tree")
    lead = ["**The change**", "- **cpu**: maxNodes 4 → 8"]
    md = render_markdown(result, lead, fold=True)
    head, folded = md.split("<details><summary>the generated resources, property by property</summary>", 1)
    assert head.startswith("### infra diff: stack `t`\n\n**The change**\n\n- **cpu**: maxNodes 4 → 8\n\n`main` → ")
    assert "| ~ | `pool-cpu-pool` |" in folded and folded.rstrip().endswith("</details>")
    # the job summary keeps everything unfolded; text puts the lead under the title
    assert "<details>" not in render_markdown(result, lead)
    assert render_text(result, ["the change:", "  cpu: maxNodes 4 → 8"]).splitlines()[1:3] == [
        "the change:", "  cpu: maxNodes 4 → 8"]
    same = graph(pool())
    assert "**no resource changes**" in render_markdown(explain(same, same, "main", "working tree"), lead)

"""Running the program under mocks: isolated, repeatable, and also usable the way Pulumi documents it."""

from __future__ import annotations

import contextvars
import runpy
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pulumi
from pulumi.runtime import settings

from bigcompute.config import load_stack
from bigcompute.infra.graph import Graph
from bigcompute.infra.plan import signed_in_mocks
from bigcompute.infra.runtime import run_program

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "__main__.py"


def mocks(stack: str):
    return signed_in_mocks(load_stack(REPO / "stacks" / f"Pulumi.{stack}.yaml"))


def run(stack: str) -> Graph:
    return run_program(PROGRAM, stack, mocks(stack))


def test_repeated_and_concurrent_runs_give_the_same_graph(stack_plans):
    first = stack_plans("prod").graph.as_json()
    assert run("prod").as_json() == first
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda s: run(s).as_json(), ["prod", "dev"]))
    assert runs[0] == first
    assert runs[1] == stack_plans("dev").graph.as_json()


def test_a_run_leaves_no_pulumi_state_behind():
    before = (settings.get_root_resource(), settings.SETTINGS.monitor, settings.SETTINGS.stack)
    run("dev")
    assert (settings.get_root_resource(), settings.SETTINGS.monitor, settings.SETTINGS.stack) == before


def test_graph_round_trips_through_json(stack_plans):
    graph = stack_plans("prod").graph
    again = Graph.from_json(graph.as_json())
    assert again.as_json() == graph.as_json()
    assert {n.urn for n in again.nodes} == {n.urn for n in graph.nodes}


def test_mocks_answer_like_azure(stack_plans):
    graph = stack_plans("dev").graph
    account = graph.resources("azure-native:batch:BatchAccount")[0]
    assert account.outputs["accountEndpoint"] == f"{account.outputs['name']}.westeurope.batch.azure.com"
    assert account.id.startswith("/subscriptions/") and "/providers/Microsoft.Batch/batchAccounts/" in account.id
    for identity in graph.resources("azure-native:managedidentity:UserAssignedIdentity"):
        uuid.UUID(identity.outputs["principalId"])
    for role in graph.resources("azure-native:authorization:RoleAssignment"):
        uuid.UUID(role.outputs["name"])


def test_program_runs_under_set_mocks_and_runpy():
    """The documented way (set_mocks, then run the program, then assert inside apply), in its own context."""

    def scenario() -> None:
        pulumi.runtime.set_mocks(mocks("prod"), project="bigcompute", stack="prod", preview=False)
        platform = runpy.run_path(str(PROGRAM))["platform"]

        @pulumi.runtime.test
        def check_pools():
            pool = platform.pools["cpu"].pool

            def verify(args):
                urn, vm_size, slots, scale, network = args
                assert vm_size == "Standard_D16s_v5", urn
                assert slots == 16, urn
                assert "$TargetDedicatedNodes" in scale["auto_scale"]["formula"], urn
                assert network["public_ip_address_configuration"] == {"provision": "NoPublicIPAddresses"}, urn

            return pulumi.Output.all(pool.urn, pool.vm_size, pool.task_slots_per_node, pool.scale_settings,
                                     pool.network_configuration).apply(verify)

        check_pools()

    contextvars.copy_context().run(scenario)
    # and a plan run afterwards is unaffected by those process-global mocks
    assert run("dev").outputs["poolIds"] == {"cpu": "cpu", "render": "render", "mpi": "mpi"}


def test_a_run_under_mocks_walks_no_python_stack_per_resource(monkeypatch):
    import traceback

    walks = []
    real = traceback.extract_stack
    monkeypatch.setattr(traceback, "extract_stack", lambda *a, **k: walks.append(1) or real(*a, **k))
    graph = run("dev")
    assert len(graph.resources()) > 10
    assert walks == []  # the SDK would walk it twice a resource, for a source position the mocks never record

"""Run the Pulumi program under mocks, isolated, as many times as needed in one process.

Pulumi keeps its runtime state (settings, root stack, config) in context variables and uses the
thread's event loop. Each run therefore gets its own thread (a fresh, empty context and its own loop),
its own settings and a fresh recording monitor: nothing leaks from one run into the next, or into
a caller that uses Pulumi mocks itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import runpy
import threading
from pathlib import Path
from typing import Any

from pulumi import ResourceTransformationArgs, ResourceTransformationResult, RunError
from pulumi.runtime import Mocks, register_stack_transformation, rpc, settings
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.mocks import MockEngine, MockMonitor, MockSettings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack

from bigcompute.infra.graph import Graph, Node
from bigcompute.infra.mocks import AzureMocks

PROJECT = "bigcompute"
log = logging.getLogger("bigcompute.infra")


class ProgramError(Exception):
    """The program failed; `__cause__` is the original exception (a ConfigError for a bad stack file)
    and `graph` holds whatever was declared before the failure."""

    def __init__(self, message: str, graph: Graph) -> None:
        super().__init__(message)
        self.graph = graph


class RecordingMonitor(MockMonitor):
    """The mock monitor, also keeping what `infra plan` shows: parents, options, registered outputs."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.registered_outputs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        node = {
            "urn": response.urn, "type": request.type, "name": request.name, "parent": request.parent or None,
            "custom": bool(request.custom), "inputs": plain(rpc.deserialize_properties(request.object)),
            "id": response.id or None, "replace_on_changes": tuple(request.replaceOnChanges),
            "delete_before_replace": bool(request.deleteBeforeReplace), "protect": bool(request.protect),
            "dependencies": tuple(sorted(request.dependencies)),  # a set: the engine gathers it in no fixed order
            "ignore_changes": tuple(request.ignoreChanges), "replace_with": tuple(request.replace_with),
        }
        # a dynamic resource's pickled provider: code, not a property anyone reviews or diffs
        node["inputs"].pop("__provider", None)
        registration = self.resources.get(response.urn)
        node["outputs"] = plain(dict(registration.state)) if registration and request.custom else {}
        with self._lock:
            self.nodes[response.urn] = node
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802
        with self._lock:
            self.registered_outputs[request.urn] = plain(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)

    def graph(self, stack: str) -> Graph:
        nodes, root_outputs = [], {}
        for urn, raw in self.nodes.items():
            registered = self.registered_outputs.get(urn, {})
            if not raw["custom"]:
                raw = {**raw, "outputs": registered}
            if raw["parent"] is None:
                root_outputs = registered
            nodes.append(Node(**raw))
        return Graph(PROJECT, stack, tuple(nodes), dict(sorted(root_outputs.items())))


def plain(value: Any) -> Any:
    """Protobuf carries every number as a float; give back the integers (16 slots, not 16.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def run_program(program: Path, stack: str, mocks: Mocks | None = None) -> Graph:
    """Run `program` (a `__main__.py`) for `stack` under mocks and return the graph it declared."""
    _without_stack_traces()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=_run_in_thread, args=(program, stack, mocks or AzureMocks(), result),
                              name=f"pulumi-mock-{stack}", daemon=True)
    worker.start()
    worker.join()
    if "error" in result:
        raise ProgramError(str(result["error"]), result["graph"]) from result["error"]
    return result["graph"]


def _without_stack_traces() -> None:
    """The SDK walks and formats the Python stack twice for every resource it registers, to tell the engine
    where it was declared (its private `_get_stack_trace`); the mock monitor records no such thing, and it was a
    sixth of a 50-pool plan's time after imports. Process-wide, and harmless: only programs under mocks run here
    (`pulumi up` runs the program in the Pulumi CLI's own process)."""
    if hasattr(sdk_resource, "_get_stack_trace"):
        sdk_resource._get_stack_trace = source_pb2.StackTrace  # an empty trace: no source position


def _run_in_thread(program: Path, stack: str, mocks: Mocks, result: dict[str, Any]) -> None:
    monitor = RecordingMonitor(mocks)
    settings.reset_options(project=PROJECT, stack=stack, preview=False, organization="organization")
    settings.configure(MockSettings(
        monitor=monitor, monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        engine=MockEngine(log), project=PROJECT, stack=stack, dry_run=False, organization="organization",
        callbacks=None, root_directory=str(program.parent)))
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_handler)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(lambda: _program(program)))
        result["graph"] = monitor.graph(stack)
    except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
        result["error"] = _unwrap(e)
        result["graph"] = monitor.graph(stack)
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)


def _program(program: Path) -> None:
    register_stack_transformation(_without_type_aliases)
    runpy.run_path(str(program), run_name="__main__")


def _without_type_aliases(args: ResourceTransformationArgs) -> ResourceTransformationResult | None:
    """Drop the aliases azure-native adds for every older API version of a type (a dozen per resource).

    They only tell the engine how to migrate old state and never change what is declared, yet resolving
    their URNs is most of a run's work under mocks.
    """
    if not args.type_.startswith("azure-native:") or not args.opts.aliases:
        return None
    opts = copy.copy(args.opts)
    opts.aliases = None
    return ResourceTransformationResult(args.props, opts)


def _unwrap(error: BaseException) -> BaseException:
    """`__main__` turns a ConfigError into a RunError (so `pulumi up` prints no traceback); undo that."""
    cause = error.__cause__
    return cause if isinstance(error, RunError) and cause is not None else error


def _quiet_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # a failed run leaves futures nobody awaits; the failure itself is reported once, by run_program
    if "exception" not in context:
        loop.default_exception_handler(context)

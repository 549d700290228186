"""The replay of Batch's official data-plane REST examples (2025-06-01, vendored under tests/data/specs/batch):
each example's prerequisites are created by the ids in its parameters, its request is sent over HTTP to the
emulator, and the answer is compared with the example's: the status, the names of the headers it shows, and the
keys of its body (top level; for a list, of its first item). Those that cannot match are in NOT_MATCHING, the
one place that says why. `python -m tests.emulator.replay` prints the coverage table of docs/emulator.md.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bigcompute.local.testing import signed, wait_for

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs" / "batch"
EXAMPLE_DIRS = (SPECS / "data-plane/Azure.Batch/stable/2025-06-01/examples", SPECS / "Azure.Batch/examples/2025-06-01")
API_VERSION = "2025-06-01"
LOCAL = "not supported by the local target"  # what every refusal for that reason says

SPEC = SPECS / "data-plane/Azure.Batch/stable/2025-06-01/BatchService.json"
# The certificate operations are not in the 2025-06-01 spec (Batch retired account certificates), though its
# examples folder still holds one example of each: their method and path as the 2024-07-01 spec had them.
_C = "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})"
_CERTIFICATE_OPERATIONS = {
    "Certificates_CreateCertificate": ("POST", "/certificates"),
    "Certificates_ListCertificates": ("GET", "/certificates"),
    "Certificates_GetCertificate": ("GET", _C),
    "Certificates_DeleteCertificate": ("DELETE", _C),
    "Certificates_CancelCertificateDeletion": ("POST", f"{_C}/canceldelete"),
}


def _spec_requests() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) for every operation of the vendored spec; {name} is a parameter."""
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    return {op["operationId"]: (method.upper(), path) for path, item in paths.items() for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op}


OPERATIONS: dict[str, tuple[str, str]] = {**_spec_requests(), **_CERTIFICATE_OPERATIONS}
_QUERY = ("recursive",)
_NOT_PARAMS = ("batchUrl", "api-version", "client-request-id", "ocp-date", "ocp-data")

# Batch removed account certificates: no new ones since 29 February 2024 (learn.microsoft.com/azure/batch/
# batch-certificate-migration-guide), and the 2025-06-01 spec defines none of their operations, though its examples
# folder still holds one example of each.
CERTIFICATE_OPERATIONS = frozenset(op for op in OPERATIONS if op.startswith("Certificates_"))
CERTIFICATE_EXAMPLES = ("Certificates_CreateCertificate", "Certificates_ListCertificates", "Certificates_GetCertificate",
                        "Certificates_DeleteCertificate", "Certificates_CancelCertificateDeletion")
CERTIFICATES_REMOVED = ("not in the 2025-06-01 API (an example left over upstream): Batch retired account "
                        "certificates on 29 February 2024 and refuses them (400 InvalidUri here)")

# Every example that does not match, and why: the one place (docs/emulator.md's coverage table is made from it).
# An entry either is refused Batch-shaped (an error body with a published code; LOCAL in its message where the
# reason is the local target) or, marked EMPTY, answers the example's status with an empty list.
EMPTY = "empty list: "
NOT_MATCHING: dict[str, str] = {
    # An upstream contradiction: Batch requires requiredSlots 1 for a multi-instance task.
    "Tasks_CreateTaskCollection_Complex": "its multi-instance task asks requiredSlots 2, which Batch refuses (\"For "
                                          "multi-instance Tasks, this must be 1\"): that task's result is an error, "
                                          "the other is added",
    # What a local node cannot be or have.
    "Nodes_GetNodeRemoteLoginSettings": f"remote login (SSH/RDP) is {LOCAL}: the node is this machine",
    "Nodes_GetNodeRemoteLoginSettings_DualStackNetworking": f"remote login (SSH/RDP) is {LOCAL}: the node is "
                                                            "this machine",
    # Left over upstream: the 2025-06-01 API has no certificate operations (CERTIFICATE_OPERATIONS, checked
    # against the spec by the replay test); Batch retired account certificates on 29 February 2024.
    **dict.fromkeys(CERTIFICATE_EXAMPLES, CERTIFICATES_REMOVED),
    # An upstream defect: the example names no poolId, so its request has no pool to patch.
    "Pools_Update_CustomerManagedKey_ForBatchManagedAccounts": "the example names no poolId (an upstream defect): "
                                                               "PATCH /pools is not an operation",
}

# Batch's published error codes ("Batch Status and Error Codes": common REST API codes and Batch service codes,
# learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes).
_PUBLISHED = """
ConditionNotMet MissingRequiredHeader MissingRequiredProperty UnsupportedHeader UnsupportedProperty InvalidHeaderValue
InvalidPropertyValue MissingRequiredQueryParameter UnsupportedQueryParameter InvalidQueryParameterValue
OutOfRangeQueryParameterValue RequestUrlFailedToParse InvalidUri InvalidHttpVerb EmptyMetadataKey InvalidRequestBody
OutOfRangeInput InvalidAuthenticationInfo InvalidInput InvalidMetadata MetadataTooLarge
MultipleConditionHeadersNotSupported AuthenticationFailed InsufficientAccountPermissions AccountIsDisabled
ResourceNotFound UnsupportedHttpVerb MissingContentLengthHeader RequestBodyTooLarge InvalidRange InternalError
OperationTimedOut ServerBusy UnsupportedRequestVersion InvalidAutoScalingSettings AutoScalingFormulaSyntaxError
AutoScalingFormulaTooLong PoolNotFound NodeNotFound JobScheduleNotFound JobNotFound TaskNotFound FileNotFound
NodeUserNotFound CertificateNotFound JobPreparationTaskNotRunOnNode JobReleaseTaskNotRunOnNode NodeAgentSKUNotFound
OperationInvalidForCurrentState PoolBeingDeleted PoolBeingResized PoolBeingCreated NodeBeingCreated NodeBeingStarted
NodeBeingReimaged NodeBeingRebooted NodeStateUnusable JobScheduleBeingTerminated JobScheduleBeingDeleted
CertificateBeingDeleted PoolExists JobScheduleExists NodeUserExists JobExists CertificateExists JobScheduleDisabled
JobScheduleCompleted JobBeingTerminated JobBeingDeleted JobDisabled JobCompleted JobNotActive TaskExists
TaskCompleted TaskNotCompleted TaskSucceeded TaskFilesUnavailable TaskFilesCleanedup ActiveJobAndScheduleQuotaReached
PoolQuotaReached JobPreparationTaskNotSpecified JobReleaseTaskNotSpecified TaskIdSameAsJobPreparationTask
TaskIdSameAsJobReleaseTask JobWithSameIdExists JobScheduleWithSameIdExists NodeAlreadyInTargetSchedulingState
OperationNotValidOnNode OperationNotValidOnPool IOError TooManyEnableAutoScaleRequests ApplicationNotFound
InvalidApplicationPackageReferences TaskDependenciesNotSpecifiedOnJob TaskDependencyListTooLong
TaskDependencyRangesTooLong
"""
PUBLISHED_CODES = frozenset(_PUBLISHED.split())


@dataclass(frozen=True)
class Example:
    name: str
    data: dict[str, Any]

    @property
    def op(self) -> str:
        return self.data["operationId"]

    @property
    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.data["parameters"].items() if k not in _NOT_PARAMS}

    @property
    def body(self) -> Any:
        """The request body: the one parameter that is an object."""
        return next((v for v in self.params.values() if isinstance(v, dict)), None)

    @property
    def status(self) -> int:
        return min(int(s) for s in self.data["responses"])

    @property
    def answer(self) -> dict[str, Any]:
        return self.data["responses"][str(self.status)]


def spec_operations() -> frozenset[str]:
    """The operationIds the vendored 2025-06-01 data-plane spec defines."""
    return frozenset(_spec_requests())


def examples() -> list[Example]:
    found: dict[str, Example] = {}
    for folder in EXAMPLE_DIRS:
        for path in sorted(folder.glob("*.json")):
            found.setdefault(path.stem, Example(path.stem, json.loads(path.read_text(encoding="utf-8"))))
    return [found[k] for k in sorted(found)]


# --- sending ---------------------------------------------------------------------------------------------
def request_path(ex: Example) -> str:
    _, template = OPERATIONS[ex.op]
    path = template
    for key, value in ex.params.items():
        if f"{{{key}}}" in path:
            safe = "" if key == "filePath" else "-_.:"
            path = path.replace(f"{{{key}}}", quote(str(value).replace("\\", "/"), safe=safe))
    return re.sub(r"/\{\w+\}", "", path)  # a parameter the example does not give names nothing


def send(emu: Any, ex: Example) -> Any:
    method, _ = OPERATIONS[ex.op]
    query = {"api-version": API_VERSION}
    query.update({k: str(ex.params[k]).lower() for k in _QUERY if k in ex.params})
    body = ex.body
    data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT", "PATCH") else None)
    return signed(emu, method, request_path(ex), urlencode(query), data)


# --- comparing -------------------------------------------------------------------------------------------
def _keys(value: Any) -> set[str]:
    return {k for k in value if not k.startswith("odata.")} if isinstance(value, dict) else set()


def mismatch(ex: Example, resp: Any) -> str | None:
    """Why the emulator's answer differs from the example's, or None when it matches."""
    if resp.status_code != ex.status:
        return f"status {resp.status_code} (example: {ex.status}): {resp.text[:300]}"
    want = ex.answer
    missing = [h for h in want if h not in ("body", "request-id") and h.lower() not in
               {k.lower() for k in resp.headers}]
    if missing:
        return f"headers missing: {missing}"
    if not isinstance(want.get("body"), dict):
        return None
    got = resp.json()
    lost = _keys(want["body"]) - _keys(got)
    if lost:
        return f"body keys missing: {sorted(lost)}"
    items, got_items = want["body"].get("value"), got.get("value")
    if isinstance(items, list) and items:
        if not got_items:
            return "the list is empty (the example lists items)"
        lost = _keys(items[0]) - _keys(got_items[0])
        if lost:
            return f"list item keys missing: {sorted(lost)}"
    return None


def refusal_problem(resp: Any, reason: str, published: frozenset[str] = PUBLISHED_CODES) -> str | None:
    """None when `resp` is a Batch-shaped refusal for `reason`."""
    if reason.startswith(EMPTY):
        body = resp.json() if resp.content else {}
        return None if resp.status_code == 200 and body.get("value") == [] else f"not an empty list: {resp.text[:200]}"
    body = resp.json() if resp.content else {}
    if resp.status_code == 200 and isinstance(body.get("value"), list):  # a task collection: refused per task
        refused = [r.get("error") for r in body["value"] if r.get("status") != "success"]
        if not refused:
            return "every task of the collection was added"
        body = refused[0]
    elif resp.status_code < 400:
        return f"answered {resp.status_code}, not refused"
    elif resp.request.method == "HEAD":
        return None  # a HEAD answer carries no body: its status is the refusal
    code, message = body.get("code"), body.get("message") or ""
    message = message.get("value", "") if isinstance(message, dict) else message
    if code not in published:
        return f"code {code!r} is not one of Batch's published codes"
    if LOCAL in reason and LOCAL not in message:
        return f"the message does not say {LOCAL!r}: {message!r}"
    return None


# --- prerequisites ---------------------------------------------------------------------------------------
Setup = Callable[[Any, Example], None]


def prepare(emu: Any, ex: Example) -> None:
    """Create what the example refers to; raise Refused when the local target refuses one of those."""
    for check, setup in _SETUPS:
        if check(ex):
            setup(emu, ex)


def call(emu: Any, method: str, path: str, body: Any = None, query: str = "") -> Any:
    resp = signed(emu, method, path, f"api-version={API_VERSION}" + (f"&{query}" if query else ""),
                  json.dumps(body).encode() if body is not None else (b"" if method != "GET" else None))
    assert resp.status_code < 300, f"prerequisite {method} {path}: {resp.status_code} {resp.text[:300]}"
    return resp


_LOCAL_VM = {"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
             "nodeAgentSKUId": "batch.node.ubuntu 24.04"}
_POOL_KEYS = ("vmSize", "virtualMachineConfiguration", "startTask", "taskSlotsPerNode", "taskSchedulingPolicy",
              "enableInterNodeCommunication", "networkConfiguration", "resizeTimeout", "targetDedicatedNodes",
              "metadata", "identity", "targetNodeCommunicationMode")


def make_pool(emu: Any, pool_id: str, nodes: int = 0, **spec: Any) -> None:
    body = {"id": pool_id, "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": _LOCAL_VM,
            "targetDedicatedNodes": nodes, **spec}
    call(emu, "POST", "/pools", body)
    # A node that cannot be set up as its pool asks (a container pool without an engine here) ends unusable.
    wait_for(lambda: _pool(emu, pool_id)["allocationState"] == "steady" and
             all(n["state"] in ("idle", "unusable") for n in _nodes(emu, pool_id)))


def _pool(emu: Any, pool_id: str) -> dict[str, Any]:
    return call(emu, "GET", f"/pools/{pool_id}").json()


def _nodes(emu: Any, pool_id: str) -> list[dict[str, Any]]:
    return call(emu, "GET", f"/pools/{pool_id}/nodes").json()["value"]


def name_nodes(emu: Any, pool_id: str, names: list[str]) -> None:
    """Give the pool's nodes the ids the example names (the node root moves with its id)."""
    state = emu.state
    with state.stores.tx():
        pool = state.pools.load(pool_id)
        for node, name in zip(pool["_nodes"], names, strict=False):
            old = state.layout.root(pool["id"], node["id"])
            node["id"], node["affinityId"] = name, f"TVM:{name}"
            new = state.layout.root(pool["id"], name)
            if old.exists() and not new.exists():
                old.rename(new)
            state.layout.create(pool["id"], name)
        state.pools.save(pool)


def _example_item(ex: Example) -> dict[str, Any]:
    body = ex.answer.get("body") or {}
    items = body.get("value")
    return items[0] if isinstance(items, list) and items else body


def _pool_from_example(emu: Any, ex: Example) -> None:
    item = _example_item(ex)
    spec = {k: item[k] for k in _POOL_KEYS if k in item}
    make_pool(emu, item.get("id") or ex.params["poolId"], **spec)


def _node_ids(ex: Example) -> list[str]:
    if ex.op == "Nodes_ListNodes":
        return [n["id"] for n in ex.answer["body"]["value"]]
    if ex.op == "Pools_RemoveNodes":
        return list(ex.params["removeOptions"]["nodeList"])
    return [ex.params["nodeId"]] if "nodeId" in ex.params else []


def _pool_with_nodes(emu: Any, ex: Example) -> None:
    names = _node_ids(ex)
    item = _example_item(ex) if ex.op in ("Nodes_GetNode", "Nodes_ListNodes") else {}
    spec = _pool_spec_of_create_example(ex.params["poolId"])
    if item.get("startTask"):
        spec["startTask"] = item["startTask"]
    if ex.op in ("Nodes_GetNodeExtension", "Nodes_ListNodeExtensions"):  # the pool declares the extensions shown
        shown = ex.answer["body"].get("value") or [ex.answer["body"]]
        spec["virtualMachineConfiguration"] = {**_LOCAL_VM, "extensions": [e["vmExtension"] for e in shown]}
    make_pool(emu, ex.params["poolId"], nodes=len(names), **spec)
    name_nodes(emu, ex.params["poolId"], names)


class Refused(Exception):  # noqa: N818 - it is Batch's answer, not our error
    """A prerequisite the local target refuses (a multi-instance task, say): the example is refused with it."""

    def __init__(self, resp: Any) -> None:
        super().__init__(resp.text[:300])
        self.resp = resp


def _create(emu: Any, path: str, body: dict[str, Any]) -> None:
    resp = signed(emu, "POST", path, f"api-version={API_VERSION}", json.dumps(body).encode())
    if resp.status_code >= 400:
        raise Refused(resp)


_JOB_KEYS = ("priority", "constraints", "maxParallelTasks", "allowTaskPreemption", "usesTaskDependencies",
             "onAllTasksComplete", "onTaskFailure", "metadata")
_TASK_KEYS = ("commandLine", "constraints", "requiredSlots", "userIdentity", "multiInstanceSettings",
              "exitConditions", "environmentSettings")
# Examples whose tasks are shown active: they wait on a pool without nodes. Those that read task files need
# the task to have run, on a node.
_WAITING = ("Tasks_GetTask", "Tasks_ListTasks", "Tasks_ReplaceTask", "Tasks_TerminateTask")
# Examples whose task is a multi-instance (MPI) one: its pool has inter-node communication and one slot per node
# (https://learn.microsoft.com/azure/batch/batch-mpi), and, for the subtasks to have run, a node per instance.
_MPI = ("Tasks_GetTask", "Tasks_ListSubTasks")
_MPI_POOL = {"enableInterNodeCommunication": True, "taskSlotsPerNode": 1}
_MPI_INSTANCES = 2


def _job(emu: Any, ex: Example) -> None:
    item = _example_item(ex) if ex.op in ("Jobs_GetJob", "Jobs_ListJobs") else {}
    job_id = ex.params.get("jobId") or item["id"]
    pool_id = (item.get("poolInfo") or {}).get("poolId") or "poolId"
    nodes = 0 if ex.op in _WAITING else _MPI_INSTANCES if ex.op in _MPI else 1
    pool_spec: dict[str, Any] = _MPI_POOL if ex.op in _MPI else {"taskSlotsPerNode": 2}
    image = ((ex.body or {}).get("containerSettings") or {}).get("imageName") if ex.op == "Tasks_CreateTask" else None
    if image:  # a container task's pool is a container pool (TaskContainerSettings)
        pool_spec = {**pool_spec, "virtualMachineConfiguration": {**_LOCAL_VM, "containerConfiguration": {
            "type": "dockerCompatible", "containerImageNames": [image]}}}
    make_pool(emu, pool_id, nodes=nodes, **pool_spec)
    spec: dict[str, Any] = {"id": job_id, "poolInfo": {"poolId": pool_id}, **{k: item[k] for k in _JOB_KEYS if k in item}}
    if ex.op == "Tasks_CreateTask" and (ex.body or {}).get("exitConditions"):
        spec["onTaskFailure"] = "performexitoptionsjobaction"  # a task's jobAction needs it (Batch refuses it otherwise)
    if ex.op == "Jobs_ListJobPreparationAndReleaseTaskStatus":
        spec["jobPreparationTask"] = {"commandLine": "/bin/true"}
        spec["jobReleaseTask"] = {"commandLine": "/bin/true"}
    _create(emu, "/jobs", spec)
    if item.get("state") == "completed" or ex.op == "Jobs_ListJobPreparationAndReleaseTaskStatus":
        if ex.op == "Jobs_ListJobPreparationAndReleaseTaskStatus":  # the preparation runs before a task does
            _create(emu, f"/jobs/{job_id}/tasks", {"id": "t", "commandLine": "/bin/true"})
            wait_for(lambda: _get(emu, f"/jobs/{job_id}/tasks/t")["state"] == "completed")
        call(emu, "POST", f"/jobs/{job_id}/terminate", {})
        wait_for(lambda: _get(emu, f"/jobs/{job_id}")["state"] == "completed")
    if item.get("previousState") == "disabled" or ex.op == "Jobs_EnableJob":
        call(emu, "POST", f"/jobs/{job_id}/disable", {"disableTasks": "requeue"})
        wait_for(lambda: _get(emu, f"/jobs/{job_id}")["state"] == "disabled")
        if ex.op != "Jobs_EnableJob":
            call(emu, "POST", f"/jobs/{job_id}/enable", {})


def _get(emu: Any, path: str) -> dict[str, Any]:
    return call(emu, "GET", path).json()


def _tasks(emu: Any, ex: Example) -> None:
    job_id = ex.params["jobId"]
    items = ex.answer["body"]["value"] if ex.op == "Tasks_ListTasks" else [
        {"id": ex.params["taskId"], **(_example_item(ex) if ex.op == "Tasks_GetTask" else {})}]
    for item in items:
        spec = {"id": ex.params.get("taskId", item["id"]), "commandLine": "/bin/true",
                **{k: item[k] for k in _TASK_KEYS if k in item}}
        if ex.op == "Tasks_ListSubTasks":  # subtasks are those of a multi-instance task
            spec["multiInstanceSettings"] = {"numberOfInstances": _MPI_INSTANCES, "coordinationCommandLine": "/bin/true"}
        if "multiInstanceSettings" in spec:
            # Tasks_GetTask shows its multi-instance task with requiredSlots 2, which Batch refuses ("For
            # multi-instance Tasks, this must be 1", BatchTaskCreateOptions.requiredSlots): it is created with 1.
            spec["requiredSlots"] = 1
        if ex.op == "Tasks_ReactivateTask":
            spec["commandLine"] = "/bin/sh -c 'exit 1'"  # only a failed task can be reactivated
        _create(emu, f"/jobs/{job_id}/tasks", spec)
        if ex.op not in _WAITING:
            wait_for(lambda t=spec["id"]: _get(emu, f"/jobs/{job_id}/tasks/{t}")["state"] == "completed")
    if "filePath" in ex.params:
        folder = emu.state.task_dir(job_id, ex.params["taskId"])
        _write(folder / ex.params["filePath"].replace("\\", "/"))
    elif ex.op == "Tasks_ListTaskFiles":
        _write(emu.state.task_dir(job_id, ex.params["taskId"]) / "stdout.txt")


def _write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("replayed\n")


def _node_file(emu: Any, ex: Example) -> None:
    node_root = emu.state.node_root(ex.params["poolId"], ex.params["nodeId"])
    _write(node_root / ex.params["filePath"].replace("\\", "/"))


def _pools_of_counts(emu: Any, ex: Example) -> None:
    for item in ex.answer["body"]["value"]:
        make_pool(emu, item["poolId"])


def _pool_spec_of_create_example(pool_id: str) -> dict[str, Any]:
    """The pool an example names, as another example creates it (`dualstackpool`), without its size."""
    for other in examples():
        body = other.body or {}
        if other.op == "Pools_CreatePool" and body.get("id") == pool_id:
            return {k: v for k, v in body.items() if k not in ("id", "targetDedicatedNodes", "targetLowPriorityNodes")}
    return {}


def _node_action_state(emu: Any, ex: Example) -> None:
    pool_id, node_id = ex.params["poolId"], ex.params["nodeId"]
    if ex.op == "Nodes_StartNode":  # only a deallocated node starts
        call(emu, "POST", f"/pools/{pool_id}/nodes/{node_id}/deallocate", {"nodeDeallocateOption": "requeue"})
        wait_for(lambda: _get(emu, f"/pools/{pool_id}/nodes/{node_id}")["state"] == "deallocated")
    if ex.op == "Nodes_EnableNodeScheduling":
        call(emu, "POST", f"/pools/{pool_id}/nodes/{node_id}/disablescheduling", {})


def _node_user(emu: Any, ex: Example) -> None:
    """The account the example replaces or deletes, added to its node first."""
    call(emu, "POST", f"/pools/{ex.params['poolId']}/nodes/{ex.params['nodeId']}/users", {"name": ex.params["userName"]})


def _autoscale_pool(emu: Any, ex: Example) -> None:
    call(emu, "POST", f"/pools/{ex.params['poolId']}/enableautoscale",
         {"autoScaleFormula": "$TargetDedicatedNodes = 0;", "autoScaleEvaluationInterval": "PT5M"})


def _resizing(emu: Any, ex: Example) -> None:
    call(emu, "POST", f"/pools/{ex.params['poolId']}/resize", {"targetDedicatedNodes": 1})


def _schedule(emu: Any, ex: Example) -> None:
    """The schedule the example names, run by the emulator's driver (PT5M on its clock) until its first job
    exists, then brought to the state the example shows: disabled and enabled again, disabled, or completed."""
    item = _example_item(ex)
    schedule_id = ex.params.get("jobScheduleId") or item["id"]
    pool_id = ((item.get("jobSpecification") or {}).get("poolInfo") or {}).get("poolId") or "poolId"
    make_pool(emu, pool_id, nodes=1)
    path = f"/jobschedules/{schedule_id}"
    call(emu, "POST", "/jobschedules", {"id": schedule_id, "schedule": {"recurrenceInterval": "PT5M"},
                                        "jobSpecification": {"poolInfo": {"poolId": pool_id}}})
    wait_for(lambda: "recentJob" in (_get(emu, path).get("executionInfo") or {}))
    if ex.op == "Jobs_ListJobsFromSchedule":  # the item shown is the schedule's job
        path = f"/jobs/{_get(emu, path)['executionInfo']['recentJob']['id']}"
    if item.get("previousState") == "disabled":
        _disable_enable(emu, path, {"disableTasks": "requeue"} if ex.op == "Jobs_ListJobsFromSchedule" else None)
    if ex.op == "JobSchedules_EnableJobSchedule":
        call(emu, "POST", f"{path}/disable", {})
    if item.get("state") == "completed":
        call(emu, "POST", f"{path}/terminate", {})
        wait_for(lambda: _get(emu, path)["state"] == "completed")


def _disable_enable(emu: Any, path: str, body: dict[str, Any] | None) -> None:
    call(emu, "POST", f"{path}/disable", body or {})
    wait_for(lambda: _get(emu, path)["state"] == "disabled")
    call(emu, "POST", f"{path}/enable", {})
    wait_for(lambda: _get(emu, path)["state"] == "active")


def add_package(emu: Any, app_id: str, version: str, files: dict[str, str], query: str = "") -> None:
    """An application package version, uploaded as a zip through the emulator's own route (ARM's, on Azure)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    resp = signed(emu, "PUT", f"/_emulator/applications/{app_id}/versions/{version}",
                  f"api-version={API_VERSION}" + (f"&{query}" if query else ""), buffer.getvalue())
    assert resp.status_code == 201, resp.text


def _applications(emu: Any, ex: Example) -> None:
    for item in ex.answer["body"].get("value") or [ex.answer["body"]]:
        for version in item["versions"]:
            add_package(emu, item["id"], version, {"bin/tool": "#!/bin/sh\n"},
                        urlencode({"displayName": item["displayName"]}))


def _usage(emu: Any, ex: Example) -> None:
    """The example's pools, with a node each, until an aggregation interval they had nodes in has ended."""
    for item in ex.answer["body"]["value"]:
        make_pool(emu, item["poolId"], nodes=1, vmSize=item["vmSize"])
    wait_for(lambda: _get(emu, "/poolusagemetrics")["value"])


def _has(*names: str) -> Callable[[Example], bool]:
    return lambda ex: all(n in ex.params for n in names)


def _is(*ops: str) -> Callable[[Example], bool]:
    return lambda ex: ex.op in ops


_SETUPS: list[tuple[Callable[[Example], bool], Setup]] = [
    (_is("Pools_GetPool", "Pools_ListPools"), _pool_from_example),
    (lambda ex: "poolId" in ex.params and ex.op != "Pools_GetPool", _pool_with_nodes),
    (_is("Pools_ListPoolNodeCounts"), _pools_of_counts),
    (_is("Pools_DisablePoolAutoScale", "Pools_EvaluatePoolAutoScale"), _autoscale_pool),
    (_is("Pools_StopPoolResize"), _resizing),
    (_has("nodeId"), _node_action_state),
    (_has("poolId", "nodeId", "filePath"), _node_file),
    (_has("poolId", "nodeId", "userName"), _node_user),
    (lambda ex: "jobId" in ex.params or ex.op == "Jobs_ListJobs", _job),
    (_has("jobId", "taskId"), _tasks),
    (_is("Tasks_ListTasks"), _tasks),
    (lambda ex: "jobScheduleId" in ex.params or ex.op == "JobSchedules_ListJobSchedules", _schedule),
    (_is("Applications_ListApplications", "Applications_GetApplication"), _applications),
    (_is("Pools_ListPoolUsageMetrics"), _usage),
]


def coverage_table() -> str:
    """Markdown: one row per operation the examples exercise: supported (every example matches), or what is
    refused and why (from NOT_MATCHING)."""
    rows: dict[str, list[Example]] = {}
    for ex in examples():
        rows.setdefault(ex.op, []).append(ex)
    lines = ["| operation | request | examples matched | local target | why not |", "| --- | --- | --- | --- | --- |"]
    for op in sorted(rows):
        exs = rows[op]
        reasons = {NOT_MATCHING[e.name] for e in exs if e.name in NOT_MATCHING}
        off = sum(1 for e in exs if e.name in NOT_MATCHING)
        if not off:
            verdict = "supported"
        elif all(r.startswith(EMPTY) for r in reasons):
            verdict = "empty list"
        else:
            verdict = "refused" if off == len(exs) else "partly refused"
        why = "; ".join(sorted(r.removeprefix(EMPTY) for r in reasons))
        method, path = OPERATIONS[op]
        lines.append(f"| {op} | `{method} {path}` | {len(exs) - off}/{len(exs)} | {verdict} | {why} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(coverage_table(), end="")

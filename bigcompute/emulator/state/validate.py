"""Submission-time checks: what Batch would reject, plus what cannot run locally (refused, never ignored)."""

from __future__ import annotations

import os
import re
from typing import Any, cast
from urllib.parse import urlparse

from bigcompute.emulator.core.errors import (
    BatchError,
    invalid_property,
    missing_property,
    unsupported_locally,
)
from bigcompute.emulator.core.formats import parse_duration
from bigcompute.emulator.core.tokens import JOB_SCOPE
from bigcompute.emulator.state import multi_instance
from bigcompute.emulator.state.models import JobDoc
from bigcompute.emulator.state.pool_features import check_container_configuration, check_extensions

# Matched with fullmatch: `$` would also accept a trailing newline ("job1\n"), an id no URL can name again.
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DEPENDS_CHARS = 64000


def check_id(value: Any, prop: str = "id") -> str:
    if value is None or value == "":
        raise missing_property(prop)
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise invalid_property(
            prop, f"The {prop} must be 1-64 characters of letters, digits, hyphens and underscores.", value
        )
    return value


def _check_identity(identity: dict[str, Any] | None, prop: str) -> None:
    if not identity:
        return
    if identity.get("username"):
        raise unsupported_locally(f"{prop}.username", "named user accounts do not exist on the local node; "
                                  "tasks run as the current user.")
    auto = identity.get("autoUser") or {}
    if str(auto.get("elevationLevel", "nonadmin")).lower() == "admin" and os.geteuid() != 0:
        raise unsupported_locally(f"{prop}.autoUser.elevationLevel", "admin elevation would need more privilege "
                                  "than the current user has; use nonadmin.")


def check_packages(refs: Any, prop: str) -> None:
    """The shape of package references: a list of objects naming an applicationId (BatchApplicationPackageReference).
    Whether they resolve is the application store's to say (a pool's at creation, a task's when it runs)."""
    if refs is None:
        return
    if not isinstance(refs, list):
        raise invalid_property(prop, f"{prop} must be a list.")
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict) or not isinstance(ref.get("applicationId"), str) or not ref["applicationId"]:
            raise missing_property(f"{prop}[{i}].applicationId")
        if ref.get("version") is not None and not isinstance(ref["version"], str):
            raise invalid_property(f"{prop}[{i}].version", "version must be a string.", ref["version"])


def check_vm_configuration(vm: dict[str, Any] | None) -> None:
    """Every pool names its image: cloudServiceConfiguration is retired and no longer in the API (2024-07-01 on),
    so a pool without virtualMachineConfiguration, or one without its required imageReference and
    nodeAgentSKUId (VirtualMachineConfiguration in the Batch REST spec), is refused."""
    if not vm:
        raise missing_property("virtualMachineConfiguration")
    if not isinstance(vm, dict):
        raise invalid_property("virtualMachineConfiguration", "virtualMachineConfiguration must be an object.")
    for key in ("imageReference", "nodeAgentSKUId"):
        if not vm.get(key):
            raise missing_property(f"virtualMachineConfiguration.{key}")
    if vm.get("containerConfiguration") is not None:
        # Accepted as Batch accepts it: without a container engine here, the pool's nodes turn unusable
        # (compute/node_setup.py), as Azure's nodes do when their container setup fails.
        check_container_configuration(vm["containerConfiguration"])
    check_extensions(vm.get("extensions"))


def check_runnable(spec: dict[str, Any], prop: str) -> None:
    """Checks shared by tasks, start tasks and job preparation/release tasks."""
    check_packages(spec.get("applicationPackageReferences"), f"{prop}applicationPackageReferences".lstrip("."))
    if not spec.get("commandLine"):
        raise missing_property(f"{prop}.commandLine" if prop else "commandLine")
    if spec.get("containerSettings") and prop:
        # Tasks run in their image with this machine's docker or podman (compute.containers); Batch accepts a
        # container task without asking the node, so one is added here too, engine or not, and waits for a node
        # that can run it. Start, preparation and release tasks in containers are not emulated.
        raise unsupported_locally(f"{prop}containerSettings".lstrip("."), "container tasks need a container "
                                  "engine (docker or podman), and they are run for tasks only; run the command "
                                  "directly.")
    _check_identity(spec.get("userIdentity"), f"{prop}userIdentity".lstrip("."))
    _check_token_settings(spec.get("authenticationTokenSettings"), f"{prop}authenticationTokenSettings".lstrip("."))
    for field in ("maxWallClockTime", "retentionTime"):
        parse_duration((spec.get("constraints") or {}).get(field), f"constraints.{field}")
    for i, rf in enumerate(spec.get("resourceFiles") or []):
        _check_resource_file(rf, f"resourceFiles[{i}]")


def _check_token_settings(settings: Any, prop: str) -> None:
    # "Currently the only supported value for the access property is 'job'" (AuthenticationTokenSettings).
    if settings is None:
        return
    access = settings.get("access") if isinstance(settings, dict) else None
    if not isinstance(access, list) or any(scope != JOB_SCOPE for scope in access):
        raise invalid_property(f"{prop}.access", "The only access scope a task authentication token grants is job.",
                               access)


def check_job_manager(spec: dict[str, Any], job_spec: dict[str, Any]) -> None:
    """A job manager task is a task of its job: an id of its own (not the preparation or release task's) and
    what every runnable task needs."""
    manager_id = check_id(spec.get("id"), "jobManagerTask.id")
    check_runnable(spec, "jobManagerTask.")
    for key, default, _ in SPECIAL_TASKS:
        special = job_spec.get(key)
        if special and manager_id.lower() == (special.get("id") or default).lower():
            raise invalid_property("jobManagerTask.id", f"The job manager task's id is the same as the {key}'s id.",
                                   manager_id)
    slots = spec.get("requiredSlots", 1)
    if not isinstance(slots, int) or slots < 1:
        raise invalid_property("jobManagerTask.requiredSlots", "requiredSlots must be a positive integer.", slots)


def _check_web_url(url: Any, prop: str) -> None:
    # The node agent downloads resource files over HTTP(S) only; a file:// URL would read the emulator's own disk.
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise invalid_property(prop, f"The value for {prop} must be an http or https URL.", url)


def _check_resource_file(rf: dict[str, Any], prop: str) -> None:
    sources = [k for k in ("autoStorageContainerName", "storageContainerUrl", "httpUrl") if rf.get(k)]
    if len(sources) != 1:
        raise invalid_property(prop, "Exactly one of autoStorageContainerName, storageContainerUrl and httpUrl "
                               "must be specified.")
    if sources[0] == "httpUrl" and not rf.get("filePath"):
        raise missing_property(f"{prop}.filePath")
    if sources[0] != "autoStorageContainerName":
        _check_web_url(rf[sources[0]], f"{prop}.{sources[0]}")
    path = rf.get("filePath") or ""
    if path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
        raise invalid_property(f"{prop}.filePath", "The file path must stay inside the task working directory.",
                               path)


# The ids Batch gives a job's preparation and release tasks when their spec names none.
SPECIAL_TASKS = (("jobPreparationTask", "jobpreparation", "TaskIdSameAsJobPreparationTask"),
                 ("jobReleaseTask", "jobrelease", "TaskIdSameAsJobReleaseTask"))


def check_task(spec: dict[str, Any], job: JobDoc) -> None:
    task_id = check_id(spec.get("id"))
    for key, default, code in SPECIAL_TASKS:
        special = cast(dict[str, Any], job).get(key)
        # "No other Task in the Job can have the same ID as the Job Preparation Task" (JobPreparationTask.id);
        # ids are case-insensitive.
        if special and task_id.lower() == (special.get("id") or default).lower():
            raise BatchError(409, code, f"The specified task id is the same as the job's {key}'s id.")
    check_runnable(spec, "")
    if spec.get("multiInstanceSettings") is not None:
        multi_instance.check_settings(spec)
        for i, rf in enumerate(spec["multiInstanceSettings"].get("commonResourceFiles") or []):
            _check_resource_file(rf, f"multiInstanceSettings.commonResourceFiles[{i}]")
    if spec.get("dependsOn"):
        _check_dependencies(spec["dependsOn"], job)
    if spec.get("exitConditions") and job.get("onTaskFailure", "noaction") == "noaction":
        _check_job_actions(spec["exitConditions"])
    for i, of in enumerate(spec.get("outputFiles") or ()):
        if not of.get("filePattern"):
            raise missing_property(f"outputFiles[{i}].filePattern")
        if not ((of.get("destination") or {}).get("container") or {}).get("containerUrl"):
            raise missing_property(f"outputFiles[{i}].destination.container.containerUrl")


def _check_dependencies(deps: dict[str, Any], job: JobDoc) -> None:
    if not job.get("usesTaskDependencies"):
        raise BatchError(
            400, "TaskDependenciesNotSpecifiedOnJob",
            "The task has dependencies but the job does not allow them (usesTaskDependencies is false).",
        )
    if sum(len(t) for t in deps.get("taskIds") or []) > MAX_DEPENDS_CHARS:
        raise BatchError(400, "TaskDependencyListTooLong", "The dependsOn task id list is too long.")
    for r in deps.get("taskIdRanges") or []:
        if not isinstance(r.get("start"), int) or not isinstance(r.get("end"), int) or r["start"] > r["end"]:
            raise invalid_property("dependsOn.taskIdRanges", "A task id range needs integers start <= end.")


def _check_job_actions(exits: dict[str, Any]) -> None:
    """Under the job's default onTaskFailure (noaction), no exit condition may ask for a job action."""
    options = [e.get("exitOptions") or {} for e in exits.get("exitCodes") or []]
    options += [e.get("exitOptions") or {} for e in exits.get("exitCodeRanges") or []]
    options += [exits.get(k) or {} for k in ("preProcessingError", "fileUploadError", "default")]
    if any(o.get("jobAction") not in (None, "none") for o in options):
        raise invalid_property("exitConditions", "A jobAction can be set only when the job's onTaskFailure "
                               "is performexitoptionsjobaction.")

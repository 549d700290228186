"""The workload model: frozen dataclasses built from a schema-valid workload file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bigcompute.workload.containers import ContainerSpec
from bigcompute.workload.exits import ExitConditions
from bigcompute.workload.generators import Generator
from bigcompute.workload.inputs import BlobInput
from bigcompute.workload.storage import BlobSource, ListedFile, UrlInput

API_VERSION = "bigcompute/v1"
UPLOAD_CONDITIONS = {"success": "tasksuccess", "failure": "taskfailure", "always": "taskcompletion"}


@dataclass(frozen=True)
class TaskSettings:
    retries: int | None = None
    timeout: timedelta | None = None
    retention: timedelta | None = None
    slots: int | None = None
    elevated: bool | None = None
    exit_conditions: ExitConditions | None = None  # taken whole, not merged entry by entry

    def over(self, base: TaskSettings) -> TaskSettings:
        """These settings, falling back to `base` for what they leave unset."""
        pick = lambda mine, theirs: theirs if mine is None else mine  # noqa: E731
        return TaskSettings(pick(self.retries, base.retries), pick(self.timeout, base.timeout),
                            pick(self.retention, base.retention), pick(self.slots, base.slots),
                            pick(self.elevated, base.elevated),
                            exit_conditions=pick(self.exit_conditions, base.exit_conditions))


@dataclass(frozen=True)
class OutputSpec:
    pattern: str
    when: str = "success"  # success | failure | always
    # A destination (workload.storage): a container other than the stack's outputs, or a path template. In a
    # task, `path` is rendered but for the job id (storage.JOB_MARK). None and None: `<job>/<task>/` in outputs.
    container: str | None = None
    path: str | None = None

    @property
    def has_destination(self) -> bool:
        return self.container is not None or self.path is not None


@dataclass(frozen=True)
class Dependency:
    """A `dependsOn` entry: a task id (template), every task of a named group, or an inclusive range of
    integer task ids (bounds are templates rendering integers); `outputs`: the dependent also receives the
    outputs of what it depends on, below $BIGCOMPUTE_TASK_OUTPUTS, as the merge task does."""

    task: str | None = None
    group: str | None = None
    start: str | None = None
    end: str | None = None
    outputs: bool = False


@dataclass(frozen=True)
class MultiInstance:
    """`multiInstance:` of a task group: each task runs on `nodes` nodes at once (Batch's multiInstanceSettings).
    The coordination command runs on every node first, then the task's command on the primary alone;
    `common_inputs` are globs over the workload's input files placed on every node, below the task's
    shared directory (AZ_BATCH_TASK_SHARED_DIR)."""

    nodes: int
    coordination: str | None = None
    common_inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskGroup:
    index: int
    id: str
    command: str
    kind: str  # task | sweep (any generator) | foreach
    display_name: str | None = None
    generator: Generator | None = None
    name: str | None = None  # for `dependsOn: [{group: NAME}]`
    foreach: str | None = None
    foreach_blobs: BlobSource | None = None  # foreach over a blob prefix, listed by the plan
    env: Mapping[str, str] = field(default_factory=dict)
    outputs: tuple[OutputSpec, ...] = ()
    depends_on: tuple[str, ...] = ()  # the plain ids and `{task: …}` entries' templates
    dependencies: tuple[Dependency, ...] = ()  # every `dependsOn` entry, in order
    settings: TaskSettings = TaskSettings()
    container: ContainerSpec | None = None  # the group's own image, over the workload's
    multi_instance: MultiInstance | None = None

    @property
    def generated_names(self) -> tuple[str, ...]:
        return self.generator.names if self.generator else ()

    def placeholders(self, workload: Workload) -> frozenset[str]:
        names = {"index", "workload", *workload.parameters}
        if self.kind == "sweep":
            names |= set(self.generated_names)
        if self.kind == "foreach":
            names |= {"file", "name", "stem", "ext", "dir"}
        return frozenset(names)


@dataclass(frozen=True)
class MergeSpec:
    id: str
    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    outputs: tuple[OutputSpec, ...] = ()
    settings: TaskSettings = TaskSettings()
    container: ContainerSpec | None = None  # the merge task's own image, over the workload's


@dataclass(frozen=True)
class ReleaseSpec:
    """The job release task: once per node that ran the job's tasks, when the job ends."""

    command: str
    elevated: bool = False
    timeout: timedelta | None = None


@dataclass(frozen=True)
class JobSettings:
    priority: int = 0
    max_wall_clock_time: timedelta = timedelta(days=7)
    max_parallel_tasks: int = -1


@dataclass(frozen=True)
class Schedule:
    """`schedule:`: the workload runs as a Batch job schedule (see workload.schedule for its rules)."""

    interval: timedelta | None = None
    start_window: timedelta | None = None
    not_before: datetime | None = None  # doNotRunUntil
    not_after: datetime | None = None  # doNotRunAfter


@dataclass(frozen=True)
class Application:
    id: str
    version: str | None = None


@dataclass(frozen=True)
class Workload:
    path: Path
    name: str
    pool: str
    groups: tuple[TaskGroup, ...]
    raw: Mapping[str, Any]  # the file's data, for the spec hash
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    input_paths: tuple[str, ...] = ()
    blob_inputs: tuple[BlobInput, ...] = ()
    url_inputs: tuple[UrlInput, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    defaults: TaskSettings = TaskSettings()
    job: JobSettings = JobSettings()
    merge: MergeSpec | None = None
    prepare_command: str | None = None
    prepare_elevated: bool = False
    applications: tuple[Application, ...] = ()
    download: tuple[str, ...] = ()
    release: ReleaseSpec | None = None
    windows: bool = False  # the pool runs Windows (set by the loader from the stack): commands under cmd /c
    container: ContainerSpec | None = None  # every task's image unless its group or the merge names another
    # Per `foreach: {blobs: …}` group index, the blobs the plan listed (runner.plan); empty until then.
    listings: Mapping[int, tuple[ListedFile, ...]] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)  # submit-time values, by name (workload.parameters)
    schedule: Schedule | None = None  # runs as a job schedule rather than one job
    # What expanding one group costs another (a `{group: …}` dependency's ids): computed once per workload.
    cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def unlisted(self) -> bool:
        """Some group iterates over blobs the plan has not listed yet (validate expands it to no task)."""
        return any(g.foreach_blobs is not None and g.index not in self.listings for g in self.groups)

    @property
    def uses_dependencies(self) -> bool:
        return self.merge is not None or any(g.dependencies for g in self.groups)

    @property
    def all_settings(self) -> tuple[TaskSettings, ...]:
        return (self.defaults, *(g.settings for g in self.groups), *((self.merge.settings,) if self.merge else ()))

    @property
    def performs_job_actions(self) -> bool:
        """The job needs onTaskFailure `performexitoptionsjobaction`: a merge (a failure ends the job), or an exit
        condition with a jobAction other than none (see workload.exits)."""
        if "performs" not in self.cache:  # asked once per task sent: computed once per workload
            self.cache["performs"] = self.merge is not None or any(
                s.exit_conditions is not None and s.exit_conditions.acts_on_job for s in self.all_settings)
        return self.cache["performs"]

    def container_of(self, group: int) -> ContainerSpec | None:
        """The image a task of `group` (MERGE_GROUP: -1 for the merge task) runs in, or None."""
        own = (self.merge.container if self.merge else None) if group < 0 else self.groups[group].container
        return own or self.container

    @property
    def containers(self) -> tuple[ContainerSpec, ...]:
        found = [self.container, *(g.container for g in self.groups), self.merge.container if self.merge else None]
        return tuple(dict.fromkeys(c for c in found if c is not None))

    @property
    def multi_instance_groups(self) -> tuple[TaskGroup, ...]:
        return tuple(g for g in self.groups if g.multi_instance is not None)

    def group_named(self, name: str) -> TaskGroup | None:
        return next((g for g in self.groups if g.name == name), None)

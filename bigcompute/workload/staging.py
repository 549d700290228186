"""Inputs shared by all tasks, staged once per node by the job preparation task; tasks carry only their own.

Sending every input with every task does not scale: 2,000 shared inputs are ~400 KB of `resourceFiles` in
each task, and Batch caps that list ("There is a maximum size for the list of resource files. When the max
size is exceeded, the request will fail and the response error code will be RequestEntityTooLarge ... This
can be achieved using .zip files, Application Packages, or Docker Containers" — `ResourceFile` /
`BatchTaskCreateOptions.resource_files` in the azure-batch SDK). So:

- The *snapshot* is the set of input files every task receives: every input file except those a
  `foreach:` group hands out one per task. It lives under one content-addressed blob prefix,
  `<workload>/<32 hex of its checksum list's SHA-256>/`, each file at its path relative to the workload, the
  list itself last (`.bigcompute/inputs.sha256`): a present list means a complete snapshot.
- The job preparation task fetches it with one container resource file (`storageContainerUrl` + `blobPrefix`
  + the pool identity), and the blob and URL inputs beside it, into `stage/<prefix>` of its working
  directory; it verifies every staged file against the list before any task of the job runs on the node.
  `waitForSuccess` (Batch's default, set explicitly): "If the Task has still not completed successfully
  after all retries, then the Batch service will not schedule Tasks of the Job to the Node", so a tampered
  snapshot runs nothing. It "can run multiple times on the same Node ... you should write the Job
  Preparation Task to handle re-execution": it downloads and verifies again, idempotently;
  `rerunOnNodeRebootAfterSuccess` stays true (Batch's default, set explicitly) so a rebooted node
  re-verifies what its disk kept (`BatchJobPreparationTask`, azure-batch SDK).
- Each task links the staged tree into its working directory before its command (`cp -rlf`: real folders,
  a hard link per file, so `find -type f` and the like see regular files; `cp -rsf`, symlinks, where the two
  directories are on different file systems). It sees the files at the same relative paths as before, may
  write new files into an input folder without touching the other tasks', and a retry relinks over its links.
  `AZ_BATCH_JOB_PREP_WORKING_DIR` is set for "all tasks except start task and job release task" of a job
  with a preparation task (batch-compute-node-environment-variables); the staged files are made read-only
  so a task cannot change an input under the next task of the node.
- A task's own files (a `foreach:` group's file, a listed blob) stay resource files of that task; its input
  files are verified by the task against digests carried in its command line.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bigcompute.workload.expand import MERGE_GROUP, TaskSpec
from bigcompute.workload.globs import compile_glob
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import Workload
from bigcompute.workload.storage import ListedFile

if TYPE_CHECKING:
    from bigcompute.workload.wire import StorageContext

CHECKSUMS_PATH = ".bigcompute/inputs.sha256"
STAGE_DIR = "stage"  # below the preparation task's working directory
PREP_DIR_VAR = "AZ_BATCH_JOB_PREP_WORKING_DIR"
REFUSE = "does not match its digest; refusing to run"
# `sha256sum -c` output → one line per input that does not match, naming it
FAILED_LINES = f'sed -n "s/^\\(.*\\): FAILED.*/bigcompute: input \\1 {REFUSE}/p"'


@dataclass(frozen=True)
class InputChecksums:
    """Input files as `sha256sum -c` reads them, and the SHA-256 of that list."""

    data: bytes
    digest: str

    @classmethod
    def of(cls, digests: Mapping[str, str]) -> InputChecksums:
        data = "".join(checksum_line(path, digests[path]) for path in sorted(digests)).encode()
        return cls(data, hashlib.sha256(data).hexdigest())


def checksum_line(path: str, digest: str) -> str:
    # GNU sha256sum's escape for names holding a backslash or a newline: a leading "\" and \\, \n inside.
    if "\\" in path or "\n" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {path}\n"


def content_blob_name(workload: Workload, relpath: str, digest: str) -> str:
    """An input file stored on its own, content-addressed, so a running job never sees a later edit of it."""
    return f"{workload.name}/{digest[:32]}/{relpath}"


def url_digests(workload: Workload) -> dict[str, str]:
    """Where each URL input with a `sha256` lands → that digest: checked on the node like the input files."""
    return {u.path: u.sha256 for u in workload.url_inputs if u.sha256}


def owned_paths(workload: Workload, relpaths: Sequence[str]) -> frozenset[str]:
    """The input files a `foreach:` group hands out one per task: never in the snapshot."""
    patterns = [compile_glob(g.foreach) for g in workload.groups
                if g.kind == "foreach" and g.foreach_blobs is None and g.foreach]
    return frozenset(p for p in relpaths if any(m.match(p) for m in patterns))


@dataclass(frozen=True)
class Staging:
    """What of a workload's inputs is staged per node, and how a task reaches it."""

    workload: Workload
    digests: Mapping[str, str]
    owned: frozenset[str]  # input files given one per task (or to the tasks that take them all)
    checksums: InputChecksums | None  # the snapshot's list: shared files and URL inputs' digests
    # per group index (MERGE_GROUP too): the input files its tasks receive outside the snapshot besides their
    # own file; filled by `of` when it has the files, so a million tasks are not filtered one by one.
    extra: Mapping[int, tuple[InputFile, ...]] | None = field(default=None, compare=False)
    takes_one: frozenset[int] = frozenset()  # the groups whose tasks each take one file of their own, first

    @classmethod
    def of(cls, workload: Workload, digests: Mapping[str, str],
           files: Sequence[InputFile] | None = None) -> Staging:
        owned = owned_paths(workload, list(digests))
        shared = {p: d for p, d in digests.items() if p not in owned}
        listed = {**shared, **url_digests(workload)}
        checksums = InputChecksums.of(listed) if listed else None
        extra = None
        if files is not None:
            outside = tuple(f for f in files if f.relpath in owned)
            extra = {g.index: _group_extra(g, outside) for g in workload.groups}
            extra[MERGE_GROUP] = outside
        takes_one = frozenset(g.index for g in workload.groups if g.kind == "foreach")
        return cls(workload, digests, owned, checksums, extra, takes_one)

    # --- the snapshot in storage ---------------------------------------------------------------------
    @property
    def prefix(self) -> str | None:
        return f"{self.workload.name}/{self.checksums.digest[:32]}/" if self.checksums else None

    @property
    def shared(self) -> tuple[str, ...]:
        """The snapshot's input files (relative paths), sorted."""
        return tuple(sorted(p for p in self.digests if p not in self.owned))

    def blob_name(self, relpath: str) -> str:
        assert self.prefix is not None
        return self.prefix + relpath

    def stored_name(self, relpath: str) -> str:
        """Where an input file is stored: in the snapshot, or content-addressed on its own."""
        if relpath in self.owned:
            return content_blob_name(self.workload, relpath, self.digests[relpath])
        return self.blob_name(relpath)

    @property
    def marker(self) -> str | None:
        """The snapshot's checksum list, written last: present means complete."""
        return self.blob_name(CHECKSUMS_PATH) if self.prefix else None

    # --- on the node ---------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether the job stages anything: a snapshot, blob inputs or URL inputs."""
        return bool(self.checksums or self.workload.blob_inputs or self.workload.url_inputs)

    @property
    def root(self) -> str:
        """Where the shared inputs land in the preparation task's working directory."""
        wl = self.workload
        return f"{STAGE_DIR}/{self.prefix}".rstrip("/") if self.prefix else f"{STAGE_DIR}/{wl.name}"

    def prep_resources(self, ctx: StorageContext) -> list[dict[str, Any]]:
        """The preparation task's resource files: the snapshot, blob inputs and URL inputs, all below `root`.
        A container source keeps each blob's full name below `filePath` (the snapshot lands at
        `stage/<prefix>`, which is `root`; a blob input's at `root/<to>/<name>`, as in a task before)."""
        identity = {"resourceId": ctx.identity_resource_id} if ctx.identity_resource_id else None
        out: list[dict[str, Any]] = []
        if self.prefix:
            out.append(_drop_none({"storageContainerUrl": ctx.inputs_url, "blobPrefix": self.prefix,
                                   "filePath": STAGE_DIR, "identityReference": identity}))
        out += [_drop_none({"storageContainerUrl": ctx.container(b.container, ctx.inputs_url),
                            "blobPrefix": b.prefix, "filePath": _join(self.root, b.to),
                            "identityReference": identity}) for b in self.workload.blob_inputs]
        # An httpUrl needs filePath, the file's own path. No identity: a public https URL.
        out += [{"httpUrl": u.url, "filePath": _join(self.root, u.path)} for u in self.workload.url_inputs]
        return out

    @property
    def refusal(self) -> str:
        """Where the preparation task leaves the reason it refuses the staged inputs (beside them, not in them)."""
        return f"{self.root}.refused"

    def prep_script(self) -> str:
        """Verify the staged files against the list (the list first, against the digest the job carries), then
        make them read-only. A file that does not match is not a failed preparation (Batch would then keep
        every task of the job off the node, waiting, with nothing to say why): its reason is left in
        `refusal`, and each task fails on it before its command, with that reason on its stderr."""
        quoted = shlex.quote(self.refusal)
        steps = [f"rm -f {quoted}"]
        if self.checksums:
            listed = f"{self.checksums.digest}  {CHECKSUMS_PATH}"
            check = (f'if echo "{listed}" | sha256sum -c --status; then '
                     f"sha256sum -c --quiet --strict {CHECKSUMS_PATH} 2>&1 | {FAILED_LINES}; "
                     f'else echo "bigcompute: input {CHECKSUMS_PATH} {REFUSE}"; fi')
            steps.append(f"r=$(cd {shlex.quote(self.root)} && {check})")
            steps.append(f'if [ -n "$r" ]; then printf "%s\\n" "$r" > {quoted}; fi')
        steps.append(f"find {shlex.quote(self.root)} -type f -exec chmod a-w {{}} +")
        return f"( {' && '.join(steps)} ) || exit 1"

    def own_files(self, task: TaskSpec) -> tuple[Any, ...]:
        """The files a task carries itself: its own file first when it has one, then inputs outside the snapshot."""
        if self.extra is None:
            return tuple(f for f in task.files if isinstance(f, ListedFile) or f.relpath in self.owned)
        first = task.files[:1] if task.group in self.takes_one else ()
        return (*first, *self.extra.get(task.group, ()))

    def task_command(self, command: str, own: Sequence[Any]) -> str:
        """`command` preceded by the link to the staged inputs and the check of the task's own input files."""
        prelude = []
        if self.active:
            prep = f'"${PREP_DIR_VAR}"/'
            prelude.append(f"if [ -e {prep}{shlex.quote(self.refusal)} ]; then cat {prep}{shlex.quote(self.refusal)} "
                           ">&2; exit 1; fi")
            source = f"{prep}{shlex.quote(self.root + '/.')}"
            prelude.append(f"{{ cp -rlf {source} . 2>/dev/null || cp -rsf {source} .; }} || {{ echo 'bigcompute: the "
                           "inputs staged by the job preparation task are missing' >&2; exit 1; }")
        lines = "".join(checksum_line(f.relpath, self.digests[f.relpath]) for f in own
                        if not isinstance(f, ListedFile))
        if lines:
            prelude.append(f"r=$(printf %s {shlex.quote(lines)} | sha256sum -c --quiet --strict 2>&1) || "
                           f'{{ printf "%s\\n" "$r" | {FAILED_LINES} >&2; exit 1; }}')
        return "; ".join([*prelude, command])


def _group_extra(group, outside: tuple[InputFile, ...]) -> tuple[InputFile, ...]:
    """A file-foreach group's tasks get the files it does not match (other groups' owned files among them);
    any other group's tasks get every input file."""
    if group.kind == "foreach" and group.foreach_blobs is None:
        m = compile_glob(group.foreach or "")
        return tuple(f for f in outside if not m.match(f.relpath))
    return outside


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}

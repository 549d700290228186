"""Real public job definitions ported to workload files (issue 16): each translation under tests/ports/<name>/
(its SOURCE names the repository, path and commit of the original) validates, and expands, through the code
`bigcompute expand` runs, to Batch task JSON carrying the features of its source. What a source uses that
bigcompute cannot express is listed in its `notes` (and in docs/porting.md), never faked."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import isodate
import pytest

from bigcompute.cli.parameters import given_values
from bigcompute.cli.validate import expanded_job
from bigcompute.runner.jobs import job_model
from bigcompute.workload import LoadedWorkload, check_workloads
from bigcompute.workload.globs import glob_match
from bigcompute.workload.storage import ListedFile
from bigcompute.workload.wire import StorageContext

HERE = Path(__file__).parent
ACCOUNT = "https://stackacct.blob.core.windows.net"
IDENTITY = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pool"
CTX = StorageContext(f"{ACCOUNT}/inputs", f"{ACCOUNT}/outputs", IDENTITY)
SUCCESS = "tasksuccess"


@dataclass(frozen=True)
class Port:
    name: str
    check: Callable[[dict], None]  # asserts the source's features in the expanded job
    sets: tuple[str, ...] = ()  # `--set` arguments (values.yaml, when present, is given as `--values`)
    notes: tuple[str, ...] = field(default=())  # what the source uses that bigcompute cannot express


def expand(port: Port) -> dict:
    """The job `bigcompute expand --values values.yaml --set …` prints, every task shown; a `foreach: {blobs}`
    group gets listing.txt as its listing, filtered by its `match` as `plan` filters the real one. Under "job",
    the job `apply` creates (constraints, common environment, preparation task), which `expand` does not show."""
    folder = HERE / port.name
    values = folder / "values.yaml"
    given = given_values(port.sets, str(values) if values.exists() else None)
    [(_, loaded, problems)] = list(check_workloads([folder / "workload.yaml"], given=given))
    assert not problems and loaded is not None, "\n".join(map(str, problems))
    loaded = with_listing(loaded, folder / "listing.txt")
    job = expanded_job(loaded, CTX, limit=10**6)
    wl = loaded.workload
    for task in job["tasks"]:
        task["received"] = received(job)[task["id"]]
    return {**job, "job": job_model(wl, job["jobId"], wl.pool, "spec", "ports").as_dict()}


def with_listing(loaded: LoadedWorkload, listing: Path) -> LoadedWorkload:
    wl = loaded.workload
    if not listing.exists():
        assert not wl.unlisted
        return loaded
    names = listing.read_text().splitlines()
    listings = {}
    for g in wl.groups:
        if (src := g.foreach_blobs) is not None:
            found = [n for n in names if n.startswith(src.prefix) and (not src.match or glob_match(src.match, n))]
            listings[g.index] = tuple(ListedFile(f"{src.to.rstrip('/')}/{n}" if src.to else n, n, src.container,
                                                 1, f"etag-{n}") for n in found)
    return dataclasses.replace(loaded, workload=dataclasses.replace(wl, listings=listings))


# --- what each source does, as Batch JSON ---------------------------------------------------------------------

def tasks_of(job: dict) -> dict[str, dict]:
    return {t["id"]: t for t in job["tasks"]}


def received(job: dict) -> dict[str, list[dict]]:
    """Each task's resource files: its own, and those a job preparation task stages once per node for every task
    (below stage/<workload>/, then copied into each task's working directory), at the path the task sees."""
    staged = [_unstaged(r) for r in job.get("jobPreparationTask", {}).get("resourceFiles", [])]
    return {t["id"]: t.get("resourceFiles", []) + staged for t in job["tasks"]}


def _unstaged(resource: dict) -> dict:
    path = re.sub(r"^stage/[^/]+/?", "", resource.get("filePath", ""))
    return {k: v for k, v in {**resource, "filePath": path}.items() if k != "filePath" or v}


def resources(task: dict) -> list[dict]:
    return task["received"]


def uploads(task: dict) -> list[tuple[str, str, str, str]]:
    """(pattern, container URL, blob path, condition) of each output file but the logs every task uploads."""
    return [(o["filePattern"], o["destination"]["container"]["containerUrl"], o["destination"]["container"]["path"],
             o["uploadOptions"]["uploadCondition"]) for o in task["outputFiles"] if o["filePattern"] != "../std*.txt"]


def container_input(task: dict, container_url: str) -> dict:
    [found] = [r for r in resources(task) if r.get("storageContainerUrl") == container_url]
    assert found["identityReference"] == {"resourceId": IDENTITY}  # read through the pool identity, no SAS
    return found


def env(task: dict, key: str = "environmentSettings") -> dict[str, str]:
    return {e["name"]: e["value"] for e in task.get(key, [])}


def inner(task: dict) -> str:
    """What `/bin/sh -c` runs: the task's command, after any check of its inputs."""
    sh, c, command = shlex.split(task["commandLine"])
    assert (sh, c) == ("/bin/sh", "-c")
    return command


def runs(task: dict, command: str) -> bool:
    """The task runs `command` last, after nothing but the checks and copies of its inputs."""
    return inner(task) == command or inner(task).endswith(f"; {command}")


def wall_clock(job: dict) -> timedelta:
    return isodate.parse_duration(job["job"]["constraints"]["maxWallClockTime"])


def preparation(job: dict) -> str:
    prep = job["job"]["jobPreparationTask"]
    assert prep["userIdentity"]["autoUser"]["elevationLevel"] == "admin"
    return inner(prep)


def check_ffmpeg_sweep(job: dict) -> None:
    tasks = tasks_of(job)
    assert list(tasks) == ["1", "2", "3", "4", "5"]  # parameterSets start..end with --values taskStart=1 taskStop=6
    for n, task in tasks.items():
        assert runs(task, f"ffmpeg -y -i sample{n}.wav -acodec libmp3lame audio{n}.mp3")
        assert container_input(task, f"{ACCOUNT}/fgrp-ffmpeg-input")["blobPrefix"] == "sample"
        assert uploads(task) == [(f"audio{n}.mp3", "https://mediastore.blob.core.windows.net/audio",
                                  f"{job['jobId']}/audio{n}.mp3", SUCCESS)]
        assert task["constraints"]["maxTaskRetryCount"] == 1
    assert job["parameters"]["inputType"] == "wav"  # the parameter's default
    assert wall_clock(job) == timedelta(hours=5)
    assert preparation(job) == "apt-get install -y ffmpeg"


def check_ffmpeg_per_file(job: dict) -> None:
    tasks = job["tasks"]
    assert job["taskCount"] == len(tasks) == 3  # taskPerFile: one task per blob of the file group
    for task, (name, stem) in zip(tasks, [("interview one.wav", "interview one"), ("song.flac", "song"),
                                          ("sub/track.ogg", "track")], strict=True):
        [blob] = [r for r in resources(task) if "httpUrl" in r]
        assert blob["httpUrl"] == f"{ACCOUNT}/fgrp-ffmpeg-input/{name.replace(' ', '%20')}"
        assert blob["filePath"] == name
        assert uploads(task) == [(f"{stem}.mp3", "https://mediastore.blob.core.windows.net/audio",
                                  f"{job['jobId']}/{stem}.mp3", SUCCESS)]
    assert "'interview one.wav'" in tasks[0]["commandLine"]  # {fileName} quoted in the source, quoted here


def check_hello_task_per_file(job: dict) -> None:
    tasks = job["tasks"]
    assert [t["id"] for t in tasks] == ["cat-000", "cat-001"]
    for task, name in zip(tasks, ["a.txt", "b.txt"], strict=True):
        assert f"cat {name} | tee output-{name}" in task["commandLine"]
        assert uploads(task) == [(f"output-{name}", f"{ACCOUNT}/fgrp-hello-output", f"{job['jobId']}/output-{name}",
                                  SUCCESS)]


def check_hello_sweep(job: dict) -> None:
    tasks = tasks_of(job)
    assert list(tasks) == [str(i) for i in range(3, 8)]  # --set taskStart=3 taskStop=8
    assert runs(tasks["5"], "echo Hello world from task 5")
    assert tasks["5"]["constraints"] == {"retentionTime": "PT1H", "maxTaskRetryCount": 1}


def check_blender_render(job: dict) -> None:
    tasks = job["tasks"]
    assert [t["displayName"] for t in tasks] == [f"Frame {f}" for f in range(1, 11)]
    first = tasks[0]
    assert runs(first, "blender -b scenes/classroom.blend -o classroom_#### -f 1 -t 0")
    assert container_input(first, f"{ACCOUNT}/fgrp-blender-data")["blobPrefix"] == "scenes/"  # sceneData default
    assert uploads(first) == [("classroom_*", f"{ACCOUNT}/fgrp-blender-output", job["jobId"], SUCCESS)]
    assert preparation(job) == "apt-get install -y blender"


def check_blender_app_template(job: dict) -> None:
    tasks = tasks_of(job)
    assert list(tasks) == ["0", "1", "2"]
    assert "-o bmw_#### -f 2 -t 0" in tasks["2"]["commandLine"]
    assert container_input(tasks["0"], f"{ACCOUNT}/fgrp-blender-data")["blobPrefix"] == "scenes/"
    assert uploads(tasks["2"]) == [("bmw_*", "https://renders.blob.core.windows.net/frames", "bmw", SUCCESS)]


def check_ocr(job: dict) -> None:
    tasks = job["tasks"]
    assert len(tasks) == 2
    command = inner(tasks[0])
    assert "-sOutputFile='invoice 2017'-%03d.png -r250 'invoice 2017.pdf'" in command
    assert 'tesseract "$f" "${f%.*}"' in command  # {{ }} is a literal brace, as in the extension
    for task in tasks:
        assert uploads(task) == [("*.txt", "https://ocrstore.blob.core.windows.net/ocr-output", "text", SUCCESS)]
    assert preparation(job) == "apt-get install -y ghostscript tesseract-ocr"


SPLIT_PY = "https://github.com/Azure/batch-shipyard/raw/master/recipes/BLAST-CPU/split.py"


def check_blast_split(job: dict) -> None:
    [task] = job["tasks"]
    assert task["containerSettings"] == {"imageName": "python:3-alpine", "containerRunOptions": "--entrypoint="}
    assert {"httpUrl": SPLIT_PY, "filePath": "split.py"} in resources(task)
    assert {"httpUrl": "https://github.com/nextflow-io/blast-example/raw/master/data/sample.fa",
            "filePath": "sample.fa"} in resources(task)
    assert uploads(task) == [("query-*.fa", f"{ACCOUNT}/blast", "output/fasta-chunks", SUCCESS)]


def check_blast(job: dict) -> None:
    tasks = job["tasks"]
    merge = tasks.pop()
    assert job["taskCount"] == 4 and len(tasks) == 3  # query-*.fa only: README.txt does not match `include`
    for i, task in enumerate(tasks, 1):
        assert task["containerSettings"]["imageName"] == "quay.io/biocontainers/blast:2.7.1--h4422958_6"
        db = [r["filePath"] for r in resources(task) if r.get("httpUrl", "").startswith("https://github.com")]
        assert db == [f"blast-db/pdb/tiny.{e}" for e in ("phr", "pin", "pog", "psd", "psi", "psq")]
        [query] = [r for r in resources(task) if r["httpUrl"].startswith(f"{ACCOUNT}/blast/")]
        assert query["filePath"] == f"output/fasta-chunks/query-{i}.fa"
        assert f"> query-{i}.sequences" in task["commandLine"]
        assert uploads(task)[1] == ("*.sequences", f"{ACCOUNT}/blast", "output/sequences", SUCCESS)
    assert merge["dependsOn"] == {"taskIds": [t["id"] for t in tasks]}
    assert merge["containerSettings"] == {"imageName": "python:3-alpine", "containerRunOptions": "--entrypoint="}
    assert container_input(merge, f"{ACCOUNT}/outputs")["blobPrefix"] == f"{job['jobId']}/"
    assert uploads(merge) == [("results.txt", f"{ACCOUNT}/blast", "output/results/results.txt", SUCCESS)]
    assert env(job["job"], "commonEnvironmentSettings") == {"db_path": "blast-db/pdb", "db_name": "tiny"}
    assert job["job"]["usesTaskDependencies"] is True


def check_namd_tcp(job: dict) -> None:
    [task] = job["tasks"]
    # multi_instance with no coordination command: Batch requires one, so it is a no-op
    assert task["multiInstanceSettings"] == {"numberOfInstances": 4, "coordinationCommandLine": "/bin/sh -c true"}
    # the image's ENTRYPOINT cleared (--entrypoint=): the command is a shell line, as Shipyard runs it
    assert task["containerSettings"] == {"imageName": "alfpark/namd:2.11-tcp",
                                         "containerRunOptions": "--entrypoint= --net=host"}
    assert runs(task, "/sw/run_namd.sh apoa1 100")
    assert "requiredSlots" not in task and task["userIdentity"]["autoUser"]["scope"] == "pool"


def check_jobs_template(job: dict) -> None:
    tasks = tasks_of(job)

    def group(prefix: str) -> list[dict]:
        return [t for i, t in tasks.items() if i.startswith(prefix)]
    # the number of tasks each of Shipyard's task factories makes from the reference's arguments
    counts = {"product-": 10, "iterables-": 9, "combination-": 1, "permutation-": 2, "zip-": 2, "random-": 3,
              "file-": 2, "repeat-": 3, "taskid-": 3}
    assert {p: len(group(p)) for p in counts} == counts
    assert all(map(runs, group("zip-"), ["mycommand a 0", "mycommand b 1"]))
    assert all(map(runs, group("permutation-"), ["mycommand ABC DEF", "mycommand DEF ABC"]))
    assert all(0 <= int(env(t)["BIGCOMPUTE_PARAM_k"]) <= 9 for t in group("random-"))
    assert [r["filePath"] for t in group("file-") for r in resources(t) if f"{ACCOUNT}/container/" in
            r.get("httpUrl", "")] == ["dir/a.png", "dir/b.png"]  # '*.png' does not reach into dir/sub/
    mytask = tasks["mytask"]
    assert mytask["dependsOn"] == {"taskIds": ["taskid-a", "taskid-b", "taskid-c"],
                                   "taskIdRanges": [{"start": 1, "end": 10}]}
    assert uploads(mytask) == [("out*.dat", f"{ACCOUNT}/output", "dir", SUCCESS)]
    assert env(mytask)["def"] == "123" and env(job["job"], "commonEnvironmentSettings") == {"abc": "xyz"}
    assert wall_clock(job) == timedelta(hours=2) and job["job"]["priority"] == 0
    assert mytask["constraints"] == {"maxWallClockTime": "PT3H", "retentionTime": "P1DT12H", "maxTaskRetryCount": 1}
    assert container_input(mytask, f"{ACCOUNT}/jobcontainer") == {
        "storageContainerUrl": f"{ACCOUNT}/jobcontainer", "blobPrefix": "dir/jobdata", "filePath": "jobdata",
        "identityReference": {"resourceId": IDENTITY}}
    assert {"httpUrl": "https://some.url/", "filePath": "some/path/in/wd/file"} in resources(mytask)
    # multi_instance: two instances, Shipyard's resource_files on every one of them, no coordination command
    assert mytask["multiInstanceSettings"] == {
        "numberOfInstances": 2, "coordinationCommandLine": "/bin/sh -c true",
        "commonResourceFiles": [{"httpUrl": "https://some.url/", "filePath": "some/path/in/sharedtask/file"}]}
    assert "requiredSlots" not in mytask and mytask["userIdentity"]["autoUser"]["scope"] == "pool"
    consumer = tasks["consumer"]
    assert consumer["dependsOn"] == {"taskIds": ["mytask"]}
    assert container_input(consumer, f"{ACCOUNT}/outputs")["blobPrefix"] == f"{job['jobId']}/mytask/"
    assert tasks["merge"]["dependsOn"]["taskIds"] == [i for i in tasks if i != "merge"]
    assert all(t["containerSettings"] == {"imageName": "busybox", "containerRunOptions": "--entrypoint= --shm-size=256m"}
               for t in tasks.values())
    # exit_conditions default {job_action: none, dependency_action: block}, the job's and mytask's; a merge makes the
    # job performexitoptionsjobaction, so the stated `none` is what keeps a failure from ending the job
    assert job["job"]["onTaskFailure"] == "performexitoptionsjobaction"
    assert all(t["exitConditions"] == {"default": {"jobAction": "none", "dependencyAction": "block"}}
               for t in tasks.values())


PACKAGES = "packageReferences (apt packages on the node) become the job preparation task `prepare:`"
AUTO_POOL = "autoPoolSpecification: pools live in the stack (vmSize, node count and image are the stack's pool)"
INCLUSIVE_END = "parameterSets' inclusive `end` is an exclusive `stop`: the end parameter is given as end + 1"
WHOLE_GROUP = "a whole file group as input: `inputs: [{blob}]` needs a non-empty prefix, given as a parameter"
JOB_ID = "the job id is the workload's name and a hash, not the `jobId`/`jobName` parameter"

PORTS = [
    Port("cli-ffmpeg-sweep", check_ffmpeg_sweep, notes=(
        INCLUSIVE_END, PACKAGES, JOB_ID,
        "per-task resource files (prefix sample{0}.wav): inputs are per workload, every task gets prefix `sample`",
        "an output destination path is a folder: audio{0}.mp3 lands at <job>/audio{0}.mp3, not at the root")),
    Port("cli-ffmpeg-per-file", check_ffmpeg_per_file, notes=(PACKAGES, JOB_ID)),
    Port("cli-hello-task-per-file", check_hello_task_per_file, notes=(
        AUTO_POOL, JOB_ID, "onAllTasksComplete: the runner ends the job when its tasks are done",
        "stdout.txt lies outside the working directory: tee'd to output-{name} (std*.txt also go to the logs)")),
    Port("cli-hello-sweep", check_hello_sweep, sets=("taskStart=3", "taskStop=8"), notes=(INCLUSIVE_END, JOB_ID)),
    Port("cli-blender-render", check_blender_render, notes=(
        INCLUSIVE_END, AUTO_POOL, WHOLE_GROUP, JOB_ID,
        "vmSize/numberNodes parameters (allowedValues): pool settings of the stack, not of the workload")),
    Port("cli-blender-app-template", check_blender_app_template, notes=(
        INCLUSIVE_END, WHOLE_GROUP, "templateMetadata: the workload's description")),
    Port("cli-ocr", check_ocr, notes=(
        PACKAGES, JOB_ID, "output `../*.txt` on TaskFailure (stdout/stderr): outputs are relative to the working "
        "directory; every task's std*.txt always go to the outputs container's <job>/<task>/logs")),
    Port("shipyard-blast-split", check_blast_split, notes=(
        "force_enable_task_dependencies: dependencies are always enabled",)),
    Port("shipyard-blast", check_blast, notes=(
        "task_filepath: file_name: each blob lands at its full name (output/fasta-chunks/query-1.fa)",
        "blobxfer_extra_options --strip-components: the merge reads $BIGCOMPUTE_TASK_OUTPUTS/<task id>/")),
    Port("shipyard-namd-tcp", check_namd_tcp, notes=(
        "num_instances: pool_current_dedicated: a fixed number, the recipe pool's 4 dedicated nodes "
        "(validate --stack checks it against the stack pool)",
        "auto_complete: the runner ends the job when its tasks are done")),
    Port("shipyard-jobs-template", check_jobs_template, notes=(
        "recurrence (job schedules, job manager), multi_instance, singularity_image, "
        "auto_pool, user_identity, federation_constraints, data_volumes, infiniband/gpu flags, "
        "recurrence (job schedules, job manager), exit_conditions, singularity_image, "
        "auto_pool, user_identity, federation_constraints, data_volumes, shm_size, infiniband/gpu flags, "
        "keyvault environment secrets: not supported",
        "task_factory: custom and random distributions beta, gamma, pareto, weibull: not supported",
        "include/exclude filters of input and output data: a blob prefix and one pattern per output",
        "input_data: azure_batch from another job: only tasks of the same job (dependsOn outputs: true)",
        "several task factories in one task: one task group per factory",
        "resource_files file_mode: not supported",
        "multi_instance num_instances pool_current_dedicated/pool_current_low_priority/pool_specification_vm_count: "
        "a fixed number of nodes; its resource_files are also every task's inputs (one `inputs:` list)")),
]


@pytest.mark.parametrize("port", PORTS, ids=lambda p: p.name)
def test_port_expands_to_its_sources_features(port: Port):
    source = dict(line.split(": ", 1) for line in (HERE / port.name / "SOURCE").read_text().splitlines())
    assert source["repo"] in ("Azure/azure-batch-cli-extensions", "Azure/batch-shipyard")
    assert len(source["commit"]) == 40
    job = expand(port)
    assert job["taskCount"] == len(job["tasks"])
    port.check(job)


def test_every_port_folder_is_tested():
    assert sorted(p.name for p in PORTS) == sorted(d.name for d in HERE.iterdir() if (d / "SOURCE").exists())
    assert len(PORTS) >= 10


def test_the_cli_prints_the_same_job(tmp_path, monkeypatch):
    """`bigcompute expand` itself, on a port without listings, prints what the table above checks."""
    from click.testing import CliRunner

    from bigcompute.cli.main import cli
    from bigcompute.cli.validate import storage_context

    monkeypatch.chdir(tmp_path)  # no local target here: expand uses its example storage URLs
    folder = HERE / "cli-ffmpeg-sweep"
    result = CliRunner().invoke(cli, ["expand", str(folder / "workload.yaml"), "--values", str(folder / "values.yaml"),
                                      "--limit", "100"])
    assert result.exit_code == 0, result.output
    [(_, loaded, _)] = check_workloads([folder / "workload.yaml"], given=given_values((), str(folder / "values.yaml")))
    assert json.loads(result.output) == expanded_job(loaded, storage_context(None), limit=100)
    assert json.loads(result.output)["taskCount"] == 5

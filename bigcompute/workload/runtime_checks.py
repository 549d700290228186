"""Checks of how tasks run, after the schema passed: exit conditions, the job release task, container forms."""

from __future__ import annotations

from collections.abc import Iterator

from bigcompute.document import Diagnostic, Document
from bigcompute.document.durations import DurationError, parse_duration

RELEASE_CAP = 15 * 60  # seconds; Batch's maximum for a job release task


def check_runtime(doc: Document) -> list[Diagnostic]:
    """Run on the schema-valid data, before the model is built."""
    data = doc.data
    problems = list(_release(doc, data))
    settings = [(("defaults",), data.get("defaults") or {}), (("merge", "settings"), (data.get("merge") or {})
                                                              .get("settings") or {})]
    settings += [(("tasks", i, "settings"), g.get("settings") or {}) for i, g in enumerate(data["tasks"])]
    for at, s in settings:
        problems += _exit_ranges(doc, (*at, "exitConditions"), s.get("exitConditions") or {})
    problems += _entrypoints(doc, data)
    return problems


def _release(doc: Document, data: dict) -> Iterator[Diagnostic]:
    release = data.get("release")
    if release is None:
        return
    if "prepare" not in data:
        # "This property can be specified only if jobPreparationTask is also specified" (jobReleaseTask,
        # https://learn.microsoft.com/rest/api/batchservice/job/add#jobreleasetask): Batch runs the release
        # task on the nodes where the preparation task ran.
        yield doc.diagnostic(("release",), "a job release task needs a job preparation task: Batch runs it on the "
                             "nodes where `prepare` ran and refuses the job without one; add `prepare:` (e.g. "
                             "`prepare: {command: 'true'}`)", key=True, code="release")
    if "timeout" in release:
        try:
            seconds = parse_duration(release["timeout"]).total_seconds()
        except DurationError as e:
            yield doc.diagnostic(("release", "timeout"), str(e), code="duration")
            return
        if seconds > RELEASE_CAP:
            # "The maximum elapsed time that the Job Release Task may run ... You may not specify a timeout
            # longer than 15 minutes" (JobReleaseTask.maxWallClockTime, same page).
            yield doc.diagnostic(("release", "timeout"), f"{release['timeout']} is over Batch's 15-minute cap for "
                                 "a job release task (PT15M)", code="release")


def _exit_ranges(doc: Document, at: tuple, conditions: dict) -> Iterator[Diagnostic]:
    for j, r in enumerate(conditions.get("exitCodeRanges") or ()):
        if r["start"] > r["end"]:
            # ExitCodeRangeMapping: "The first exit code in the range" / "The last exit code in the range"
            # (https://learn.microsoft.com/rest/api/batchservice/task/add#exitcoderangemapping)
            yield doc.diagnostic((*at, "exitCodeRanges", j), f"exit code range {r['start']}..{r['end']} is empty: "
                                 "start must be at most end", code="exit-conditions")
    seen: dict[int, int] = {}
    for j, e in enumerate(conditions.get("exitCodes") or ()):
        if seen.setdefault(e["code"], j) != j:
            yield doc.diagnostic((*at, "exitCodes", j, "code"), f"exit code {e['code']} is already mapped by "
                                 f"exitCodes[{seen[e['code']]}]: only the first would ever apply",
                                 code="exit-conditions")


def _entrypoints(doc: Document, data: dict) -> Iterator[Diagnostic]:
    """The entrypoint form runs no shell, and the inputs of a task are linked and checked by shell lines
    before its command (workload.staging): a task with inputs must use the shell form."""
    spots = [(("container",), data.get("container"), bool(data.get("inputs")))]
    spots += [(("tasks", i, "container"), g.get("container") or data.get("container"),
               bool(data.get("inputs")) or "foreach" in g) for i, g in enumerate(data["tasks"])]
    if data.get("merge"):
        spots.append((("merge", "container"), data["merge"].get("container") or data.get("container"),
                      bool(data.get("inputs"))))
    for at, image, has_inputs in spots:
        if image and image.get("entrypoint") and has_inputs:
            where = at if at[-1:] == ("container",) and _declared(data, at) else ("container",)
            yield doc.diagnostic((*where, "entrypoint"), "entrypoint: true runs the image's ENTRYPOINT with no "
                                 "shell, but a task with inputs (`inputs:` or `foreach:`) starts with shell lines "
                                 "that link and verify them: use the shell form (entrypoint: false) and call the "
                                 "entrypoint from the command", code="container")
            return


def _declared(data: dict, at: tuple) -> bool:
    node = data
    for key in at:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    return node is not None

"""Semantic checks of what a workload reads from and writes to storage (see workload.storage), located at
the field: containers, URLs, placement paths, blob foreach sources and output destinations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bigcompute.document import Diagnostic, Document
from bigcompute.workload.expand import MERGE_PLACEHOLDERS, PATH_PLACEHOLDERS
from bigcompute.workload.inputs import InputError, InputFile, check_relative
from bigcompute.workload.model import OutputSpec, Workload
from bigcompute.workload.storage import StorageError, check_container, check_path_template, check_url
from bigcompute.workload.templates import TemplateError, parse_template


def check_storage(doc: Document, wl: Workload, files: Sequence[InputFile]) -> Iterator[Diagnostic]:
    yield from _inputs(doc, wl, files)
    for g in wl.groups:
        src = g.foreach_blobs
        if src is not None:
            at = ("tasks", g.index, "foreach")
            yield from _container(doc, (*at, "container"), src.container)
            yield from _relative(doc, (*at, "blobs"), src.prefix, "blob prefix")
            yield from _relative(doc, (*at, "to"), src.to, "blob destination")
            yield from _relative(doc, (*at, "match"), src.match, "match pattern")
        yield from _outputs(doc, ("tasks", g.index), g.outputs)
    if wl.merge:
        yield from _outputs(doc, ("merge",), wl.merge.outputs, MERGE_PLACEHOLDERS)


def _inputs(doc: Document, wl: Workload, files: Sequence[InputFile]) -> Iterator[Diagnostic]:
    """Containers and URLs are valid; every URL file lands on a path of its own (not on an input file's)."""
    landed = {f.relpath: "the input file" for f in files}
    urls = iter(wl.url_inputs)
    for i, entry in enumerate(wl.raw.get("inputs", [])):
        if isinstance(entry, dict) and "blob" in entry:
            yield from _container(doc, ("inputs", i, "container"), entry.get("container"))
        if not (isinstance(entry, dict) and "url" in entry):
            continue
        u = next(urls)
        try:
            check_url(u.url)
        except StorageError as e:
            yield doc.diagnostic(("inputs", i, "url"), str(e), code="input")
            continue
        if not u.name:
            yield doc.diagnostic(("inputs", i, "url"), f"URL {u.url!r} ends with '/': give the file a `name`",
                                 code="input")
            continue
        bad = list(_relative(doc, ("inputs", i, "to"), u.to, "URL destination"))
        yield from bad
        if not bad and u.path in landed:
            yield doc.diagnostic(("inputs", i), f"URL input lands on {u.path!r}, as {landed[u.path]} does: one "
                                 "would overwrite the other; change its `to` or `name`", code="input")
        landed.setdefault(u.path, f"URL input {u.url!r}")


def _outputs(doc: Document, at: tuple, outputs: Sequence[OutputSpec],
             known: frozenset[str] | None = None) -> Iterator[Diagnostic]:
    for j, out in enumerate(outputs):
        yield from _container(doc, (*at, "outputs", j, "container"), out.container)
        if known is not None and out.path is not None:  # task groups' paths are checked with their templates
            try:
                check_path_template(out.path)
                parse_template(out.path, known | PATH_PLACEHOLDERS)
            except TemplateError as e:
                yield doc.diagnostic((*at, "outputs", j, "path"), str(e), code="template")


def _container(doc: Document, at: tuple, ref: str | None) -> Iterator[Diagnostic]:
    if ref is None:
        return
    try:
        check_container(ref)
    except StorageError as e:
        yield doc.diagnostic(at, str(e), code="storage")


def _relative(doc: Document, at: tuple, text: str | None, what: str) -> Iterator[Diagnostic]:
    if not text:
        return
    try:
        check_relative(text, what)
    except InputError as e:
        yield doc.diagnostic(at, str(e), code="path")

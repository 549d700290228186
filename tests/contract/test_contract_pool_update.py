"""components/pool_update.py's provider (diff, create, update, delete) against a stand-in for Azure Resource
Manager: HTTPS on 127.0.0.1, recording every request, holding a pool as the prod stack creates it (a virtual
network, no public IPs). The provider signs in through its own credential chain: the GitHub federation of a CI job,
served by the fake GitHub and Entra ID endpoints of tests/runner/test_runner_azure.py. Every PATCH body is checked
against Pool_Update's schema (Batch management 2024-07-01, vendored under tests/data/specs/)."""

from __future__ import annotations

import copy
import json
import logging
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.pool_update import PoolUpdateProvider, management_client
from tests.contract.conftest import ARM_TARGETS, SPECS, SpecSet, arm_body, body_schema, declared_resources
from tests.infra.conftest import REPO, project  # noqa: F401 - fixture
from tests.runner.conftest import TENANT, signing_key, tls  # noqa: F401 - fixtures of github_oidc
from tests.runner.test_runner_azure import GITHUB_REQUEST_TOKEN, Answering, github_oidc, serve, stop  # noqa: F401

POOL, SETTINGS = "azure-native:batch:Pool", "pulumi-python:dynamic/batch:PoolUpdate"
PATCH_SCHEMA = body_schema(SPECS, ARM_TARGETS[SETTINGS].spec, ARM_TARGETS[SETTINGS].operation)


class FakeArm:
    """Pool - Get answers the pool held; Pool - Update replaces the properties its body names ("replaces only the
    pool properties specified in the request", learn.microsoft.com/rest/api/batchmanagement/pool/update), merges
    user-assigned identities, clears them on type None, and answers the pool. Every request is recorded."""

    def __init__(self, certificate: tuple[str, str], pool: dict[str, Any]) -> None:
        self.pool = pool
        self.requests: list[dict[str, Any]] = []
        arm = self

        class Handler(Answering):
            def record(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                arm.requests.append({"method": self.command, "path": parts.path, "query": parse_qs(parts.query),
                                     "authorization": self.headers.get("Authorization"), "raw": raw,
                                     "body": json.loads(raw) if raw else None})
                return arm.requests[-1]

            def do_GET(self) -> None:
                self.record()
                self.answer(200, json.dumps(arm.pool).encode())

            def do_PATCH(self) -> None:
                arm.apply(self.record()["body"])
                self.answer(200, json.dumps(arm.pool).encode())

        self.server = serve(Handler, certificate)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_port}"

    def apply(self, body: dict[str, Any]) -> None:
        self.pool["properties"].update(body.get("properties", {}))
        if "tags" in body:
            self.pool["tags"] = body["tags"]
        if "identity" in body:
            wanted = body["identity"]
            held = {} if wanted["type"] == "None" else dict(self.pool["identity"].get("userAssignedIdentities") or {})
            held.update({i: {"principalId": "p", "clientId": "c"} for i in wanted.get("userAssignedIdentities", {})})
            self.pool["identity"] = {"type": wanted["type"], **({"userAssignedIdentities": held} if held else {})}


def _declared(folder: Path, stack: str) -> tuple[dict, dict]:
    """The cpu pool's PUT inputs and its PoolUpdate's inputs, as the program declares them for `stack`."""
    found = {d.type: d.inputs for d in declared_resources(folder, stack)
             if d.type in (POOL, SETTINGS) and d.name.startswith("pool-cpu-")}
    return found[POOL], found[SETTINGS]


def live_pool(pool_inputs: dict, settings: dict) -> dict[str, Any]:
    """The pool as Pool - Get answers after azure-native's PUT created it: its PUT body plus what the service adds
    (read-only states, the identities' principal and client ids)."""
    body = copy.deepcopy(arm_body(pool_inputs, ARM_TARGETS[POOL].url_params))
    body["properties"].update(provisioningState="Succeeded", allocationState="Steady")
    body["identity"]["userAssignedIdentities"] = {i: {"principalId": "p", "clientId": "c"}
                                                  for i in body["identity"]["userAssignedIdentities"]}
    return {"id": settings["poolId"], "name": "cpu", "type": "Microsoft.Batch/batchAccounts/pools", **body}


@pytest.fixture(scope="module")
def prod() -> tuple[dict, dict]:
    return _declared(REPO, "prod")


@pytest.fixture
def arm(tls, prod):  # noqa: F811 - the fixture imported above
    fake = FakeArm(tls, live_pool(*prod))
    yield fake
    stop(fake.server)


@pytest.fixture
def provider(arm, github_oidc) -> PoolUpdateProvider:  # noqa: F811
    """The provider as `pulumi up` runs it, its ARM endpoint the fake one: the credential is its own."""
    return PoolUpdateProvider(partial(management_client, base_url=arm.url))


def _patches(arm: FakeArm) -> list[dict]:
    return [r["body"] for r in arm.requests if r["method"] == "PATCH"]


def _schema_errors(official_specs: SpecSet, arm: FakeArm) -> dict[int, list[str]]:
    return {n: e for n, body in enumerate(_patches(arm)) if (e := official_specs.errors(PATCH_SCHEMA, body))}


def test_a_formula_only_change_patches_only_the_autoscale_settings(project, prod, arm, provider,  # noqa: F811
                                                                   official_specs: SpecSet):
    """"Resize a pool by pull request" on the prod network shape: maxNodes 40 -> 60 sends one PATCH carrying the new
    scaleSettings and nothing else, so never the deploymentConfiguration/networkConfiguration that Batch refuses
    to see again (PropertyCannotBeUpdated, Azure/Batch#153)."""
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text()
    assert "maxNodes: 40" in text
    _, resized = _declared(project(text.replace("maxNodes: 40", "maxNodes: 60"), name="prod"), "prod")
    _, settings = prod
    diff = provider.diff(settings["poolId"], settings, resized)
    assert (diff.changes, diff.replaces) == (True, [])

    provider.update(settings["poolId"], settings, resized)
    [request] = arm.requests
    assert (request["method"], request["path"], request["query"]) == (
        "PATCH", urlsplit(settings["poolId"]).path, {"api-version": ["2024-07-01"]})
    scale = resized["body"]["properties"]["scaleSettings"]
    assert request["body"] == {"properties": {"scaleSettings": scale}}
    assert "maxNodes = 60;" in scale["autoScale"]["formula"]
    for never in ("deploymentConfiguration", "networkConfiguration", "vmSize"):
        assert never not in request["raw"]
    assert _schema_errors(official_specs, arm) == {}
    assert "networkConfiguration" in arm.pool["properties"]  # the live pool keeps its network


def test_a_first_deployment_reads_the_live_pool_and_patches_only_what_it_lacks(prod, arm, provider,
                                                                               official_specs: SpecSet):
    """create() compares with the live pool: the prod pool as created holds every setting, so nothing is sent;
    a pool created with an older formula (a replaced pool) gets that formula alone."""
    _, settings = prod
    provider.create(settings)
    assert [r["method"] for r in arm.requests] == ["GET"]

    arm.pool["properties"]["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": 1}}
    created = provider.create(settings)
    assert created.id == settings["poolId"] and created.outs == settings
    assert [r["method"] for r in arm.requests] == ["GET", "GET", "PATCH"]
    assert _patches(arm) == [{"properties": {"scaleSettings": settings["body"]["properties"]["scaleSettings"]}}]
    assert _schema_errors(official_specs, arm) == {}


def test_an_identity_change_updates_the_pool_in_place(prod, arm, provider, official_specs: SpecSet):
    """A new pool identity is a diff without replacement; the PATCHes leave the pool with exactly the stack's
    identities (the old one cleared with the type None, Batch's documented removal) and touch nothing else."""
    _, settings = prod
    [old] = settings["body"]["identity"]["userAssignedIdentities"]
    new = old.replace("/id-bigcompute-prod", "/id-bigcompute-prod-2")
    moved = copy.deepcopy(settings)
    moved["body"]["identity"]["userAssignedIdentities"] = {new: {}}
    diff = provider.diff(settings["poolId"], settings, moved)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, [], False)

    provider.update(settings["poolId"], settings, moved)
    assert _patches(arm) == [{"identity": {"type": "None"}},
                             {"identity": {"type": "UserAssigned", "userAssignedIdentities": {new: {}}}}]
    assert set(arm.pool["identity"]["userAssignedIdentities"]) == {new}
    assert _schema_errors(official_specs, arm) == {}


def test_the_same_settings_are_no_change_and_another_pool_is_a_replacement(prod, arm, provider):
    _, settings = prod
    assert provider.diff(settings["poolId"], settings, copy.deepcopy(settings)).changes is False
    other = {**settings, "poolId": settings["poolId"].replace("/pools/cpu", "/pools/cpu2")}
    diff = provider.diff(settings["poolId"], settings, other)
    assert (diff.changes, diff.replaces) == (True, ["poolId"])
    provider.update(settings["poolId"], settings, copy.deepcopy(settings))
    provider.delete(settings["poolId"], settings)  # the settings live in the pool, which its own resource deletes
    assert arm.requests == []


def test_credentials_come_from_the_configured_credential_and_are_never_logged_or_kept(
        prod, arm, provider, github_oidc, signing_key, caplog):  # noqa: F811
    """Every ARM request carries a bearer token Entra ID issued for ARM to the CI job's federated identity (a fresh
    GitHub ID token as its assertion); no token reaches a log line, the resource's outputs or the serialized
    provider that Pulumi keeps in the stack's state."""
    caplog.set_level(logging.DEBUG)
    _, settings = prod
    changed = {**settings, "body": {**settings["body"], "tags": {"owner": "someone-else"}}}
    outs = provider.update(settings["poolId"], settings, changed).outs
    arm.pool["properties"]["metadata"] = []
    provider.create(settings)

    assert [r["method"] for r in arm.requests] == ["PATCH", "GET", "PATCH"]
    assert github_oidc.token_requests and {r["scope"] for r in github_oidc.token_requests} == {
        "https://management.azure.com/.default"}
    assert [r["client_assertion"] for r in github_oidc.token_requests] == github_oidc.id_tokens
    tokens = [r["authorization"].removeprefix("Bearer ") for r in arm.requests]
    for token in tokens:  # issued by the test tenant for ARM (a forged or absent token fails here)
        claims = jwt.decode(token, signing_key.public_key(), algorithms=["RS256"],
                            audience="https://management.azure.com")
        assert claims["tid"] == TENANT
    secrets = [*tokens, *github_oidc.id_tokens, GITHUB_REQUEST_TOKEN]
    kept = caplog.text + json.dumps(outs) + serialize_provider(provider)
    assert caplog.records and [s for s in secrets if s in kept] == []

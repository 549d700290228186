"""The stack config: both real stacks load; every bad stack file fails with path, line and field."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from bigcompute.config import AutoScale, ConfigError, FixedScale, RunnerNetworkAccess, load_stack

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
config:
  azure-native:location: westeurope
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - name: cpu
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        fixed: {dedicated: 1, spot: 2}
"""


def stack_file(tmp_path: Path, text: str) -> Path:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    path = tmp_path / "stacks" / "Pulumi.test.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def only_error(tmp_path: Path, text: str) -> tuple[int, int, str, str]:
    with pytest.raises(ConfigError) as info:
        load_stack(stack_file(tmp_path, text))
    [d] = info.value.diagnostics
    return d.line, d.column, d.code, d.message


def test_minimal_stack_gets_safe_defaults(tmp_path):
    stack = load_stack("test", root=stack_file(tmp_path, BASE).parent)
    assert stack.name == "test" and stack.environment == "test"
    assert stack.storage.shared_key_access is False
    assert stack.batch.authentication_modes == ("AAD",)
    [pool] = stack.pools
    assert pool.scale == FixedScale(dedicated=1, spot=2) and pool.uses_spot
    assert pool.image.node_agent_sku == "batch.node.ubuntu 24.04"
    assert pool.node_deallocation_option == "taskcompletion" and pool.task_slots_per_node == 1
    assert pool.formula() is None


def test_stack_files_in_the_repository_load():
    dev, prod = load_stack("dev", root=ROOT), load_stack("prod", root=ROOT)
    assert {p.name for p in dev.pools} == {p.name for p in prod.pools} == {"cpu", "render", "mpi"}
    assert [p.name for p in prod.pools if p.inter_node_communication] == ["mpi"]
    assert prod.batch.authentication_modes == ("AAD",) and prod.network.public_ips == "none"
    # the runner reaches prod's account endpoint from its allow-listed egress; nodes use the private endpoint
    assert prod.batch.public_network_access
    assert prod.batch.runner_access == RunnerNetworkAccess("allowList", ("203.0.113.0/24",))
    cpu = prod.pool("cpu")
    assert isinstance(cpu.scale, AutoScale) and cpu.scale.evaluation_interval == timedelta(minutes=5)
    assert "$TargetDedicatedNodes" in cpu.formula()
    assert dev.pool("render").scale == FixedScale(dedicated=0, spot=1)


CASES = {
    "unknown key": (BASE + "      vmsize: Standard_D2s_v5\n",
                    (11, 7, "unknown-key", "unknown key 'vmsize'; did you mean 'vmSize'?")),
    "unknown namespace key": (BASE + "  bigcompute:pool: {}\n",
                              (11, 3, "unknown-key", "unknown key 'pool'; did you mean 'pools'?")),
    "wrong type": (BASE.replace("dedicated: 1", "dedicated: one"),
                   (10, 28, "schema-type", "expected integer, got 'one'")),
    "unknown image alias": (BASE.replace("ubuntu-24.04", "ubuntu-18.04"),
                            (8, 14, "unknown-image", "unknown image alias 'ubuntu-18.04'")),
    "pool name clash": (BASE + "    - {name: CPU, vmSize: Standard_D2s_v5, image: debian-12, scale: {fixed: {}}}\n",
                        (11, 14, "duplicate-pool", "pool name 'CPU' is already used by pools[0]")),
    "two scales": (BASE.replace("        fixed: {dedicated: 1, spot: 2}",
                                "        fixed: {}\n        autoscale: {formula: '$TargetDedicatedNodes=1;'}"),
                   (10, 9, "schema-maxProperties", "has too many properties")),
    "apt without elevation": (BASE + "      startTask: {aptPackages: [ffmpeg]}\n",
                              (11, 32, "needs-elevation", "aptPackages need 'elevated: true'")),
    "subnet outside address space": (BASE + "  bigcompute:network: {addressSpace: 10.0.0.0/16, subnetPrefix: 10.1.0.0/24}\n",
                                     (11, 65, "network", "subnet 10.1.0.0/24 is not inside the address space")),
    "bad interval": (BASE.replace("        fixed: {dedicated: 1, spot: 2}",
                                  "        autoscale: {formula: '$TargetDedicatedNodes=1;', evaluationInterval: PT1M}"),
                     (10, 78, "autoscale-interval", "evaluation interval must be between PT5M and PT168H")),
    "lowercase currency": (BASE + "      pricing: {dedicatedPerHour: 1, currency: usd}\n",
                           (11, 48, "schema-pattern", "an ISO 4217 currency code")),
    "prices without a date": (BASE + "      pricing: {dedicatedPerHour: 1, asOf: last week}\n",
                              (11, 44, "schema-pattern", "a date YYYY-MM-DD")),
    "not a stack file": ("pools: []\n", (1, 1, "schema-type", "expected a Pulumi stack file with a 'config:'")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_stack_is_located(tmp_path, name):
    text, (line, col, code, message) = CASES[name]
    found = only_error(tmp_path, text)
    assert found[:3] == (line, col, code) and message in found[3], found


def test_prices_carry_their_currency_source_and_date(tmp_path):
    text = BASE + ("      pricing: {dedicatedPerHour: 0.5, spotPerHour: 0.1, currency: EUR, source: price sheet 2026,"
                   " asOf: 2026-11-30}\n")
    [pool] = load_stack(stack_file(tmp_path, text)).pools
    assert (pool.pricing.currency, pool.pricing.source, pool.pricing.as_of) == ("EUR", "price sheet 2026", "2026-11-30")
    assert pool.pricing.provenance == "EUR, price sheet 2026, as of 2026-11-30"
    [bare] = load_stack(stack_file(tmp_path, BASE + "      pricing: {dedicatedPerHour: 0.5}\n")).pools
    assert bare.pricing.provenance == "USD, source not given"


def test_the_repository_stacks_say_where_their_prices_come_from():
    for name in ("dev", "staging", "prod"):
        for pool in load_stack(name, root=ROOT).pools:
            assert pool.pricing and pool.pricing.source and pool.pricing.as_of, (name, pool.name)


def test_missing_stack_names_where_it_looked(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_stack("staging", root=tmp_path)
    assert "no stack file for stack 'staging'" in str(info.value)


def test_staging_mirrors_the_network_shape_of_prod():
    staging, prod = load_stack("staging", root=ROOT), load_stack("prod", root=ROOT)
    assert staging.environment == "staging"
    assert (staging.batch.public_network_access, staging.batch.runner_access.mode, staging.network.public_ips) == (
        prod.batch.public_network_access, prod.batch.runner_access.mode, prod.network.public_ips)
    assert staging.batch.authentication_modes == prod.batch.authentication_modes
    assert {p.name for p in staging.pools} == {p.name for p in prod.pools}


PRIVATE_NET = "  bigcompute:network: {addressSpace: 10.40.0.0/16, subnetPrefix: 10.40.0.0/20, publicIps: none}\n"
NETWORK_CASES = {
    # every node would be unusable: the public node-management endpoint is closed and nodes have public IPs
    "closed account, nodes with public IPs": (
        BASE + "  bigcompute:batch: {publicNetworkAccess: false, runnerAccess: {mode: privateEndpoint}}\n"
        "  bigcompute:network: {addressSpace: 10.40.0.0/16, subnetPrefix: 10.40.0.0/20}\n",
        (11, 43, "network-path", "network' with 'publicIps: none'")),
    # the old prod stack: the account endpoint is closed and the runner has no private endpoint (403)
    "closed account, no runner path": (
        BASE + "  bigcompute:batch: {publicNetworkAccess: false}\n" + PRIVATE_NET,
        (11, 43, "network-path", "the runner cannot reach the account")),
    "allow-list on a closed account": (
        BASE + "  bigcompute:batch: {publicNetworkAccess: false, runnerAccess: {mode: allowList, ips: [203.0.113.9]}}\n"
        + PRIVATE_NET, (11, 71, "network-path", "the runner cannot reach the account")),
    "private endpoint without a network": (
        BASE + "  bigcompute:batch: {runnerAccess: {mode: privateEndpoint}}\n",
        (11, 43, "network-path", "needs a 'network' block")),
    "allow-list without addresses": (
        BASE + "  bigcompute:batch: {runnerAccess: {mode: allowList}}\n",
        (11, 36, "network-path", "needs 'ips'")),
    "addresses without an allow-list": (
        BASE + "  bigcompute:batch: {runnerAccess: {mode: open, ips: [203.0.113.9]}}\n",
        (11, 54, "network-path", "'ips' only apply with mode allowList")),
    "address with host bits": (
        BASE + "  bigcompute:batch: {runnerAccess: {mode: allowList, ips: [203.0.113.0/24, 198.51.100.7/24]}}\n",
        (11, 76, "network-path", "has host bits set")),
    "IPv6 address": (
        BASE + "  bigcompute:batch: {runnerAccess: {mode: allowList, ips: ['2001:db8::1']}}\n",
        (11, 60, "network-path", "is not IPv4")),
}


@pytest.mark.parametrize("name", list(NETWORK_CASES))
def test_stack_without_a_network_path_is_refused(tmp_path, name):
    text, (line, col, code, message) = NETWORK_CASES[name]
    found = only_error(tmp_path, text)
    assert found[:3] == (line, col, code) and message in found[3], found


@pytest.mark.parametrize("batch", [
    "{runnerAccess: {mode: allowList, ips: [203.0.113.0/24, 198.51.100.7]}}",
    "{publicNetworkAccess: false, runnerAccess: {mode: privateEndpoint}}",
    "{runnerAccess: {mode: privateEndpoint}}",
])
def test_stack_with_a_network_path_loads(tmp_path, batch):
    stack = load_stack(stack_file(tmp_path, BASE + f"  bigcompute:batch: {batch}\n" + PRIVATE_NET))
    assert stack.batch.runner_access.mode in ("allowList", "privateEndpoint")


def test_runner_access_defaults_to_open(tmp_path):
    assert load_stack(stack_file(tmp_path, BASE)).batch.runner_access == RunnerNetworkAccess("open", ())



LOCAL_APPS = BASE + """\
      applications: [{id: hello}, {id: tools, version: "2"}]
  bigcompute:localApplications:
    - id: hello
      displayName: Hello tool
      defaultVersion: "1.0"
      versions: {"1.0": apps/hello-1.0, "1.1": apps/hello-1.1.zip}
    - id: tools
      versions: {"2": apps/tools}
"""


def test_local_applications_load_with_their_versions(tmp_path):
    stack = load_stack(stack_file(tmp_path, LOCAL_APPS))
    hello, tools = stack.local_applications
    assert (hello.id, hello.display_name, hello.default_version) == ("hello", "Hello tool", "1.0")
    assert dict(hello.versions) == {"1.0": "apps/hello-1.0", "1.1": "apps/hello-1.1.zip"}
    assert (tools.default_version, dict(tools.versions)) == (None, {"2": "apps/tools"})


@pytest.mark.parametrize(("change", "where", "code", "says"), [
    (('defaultVersion: "1.0"', 'defaultVersion: "3.0"'), (15, 23), "unknown-version", "not one of the versions"),
    (('{id: tools, version: "2"}', '{id: tools, version: "9"}'), (11, 56), "unknown-version", "no version '9'"),
    (("[{id: hello},", "[{id: nope},"), (11, 27), "unknown-application", "not in localApplications"),
    (('{id: tools, version: "2"}', "{id: tools}"), (11, 35), "unknown-version", "has no defaultVersion"),
], ids=["default-not-a-version", "unknown-version", "undeclared-application", "no-version-no-default"])
def test_local_applications_that_would_not_resolve_are_located_errors(tmp_path, change, where, code, says):
    line, column, got_code, message = only_error(tmp_path, LOCAL_APPS.replace(*change))
    assert ((line, column), got_code) == (where, code) and says in message

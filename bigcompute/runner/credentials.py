"""The runner's Azure credential: one object for Batch and Storage, renewing itself for as long as a run lasts.

In GitHub Actions, `azure/login` leaves an Azure CLI session built on a GitHub OIDC assertion that is valid for
about ten minutes and that the CLI cannot renew (Azure/azure-cli#28708, Azure/login#180): an `apply --wait` longer
than that fails with AADSTS700024. So when the workflow may mint ID tokens (`permissions: id-token: write` sets
ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN) and names the app registration (AZURE_CLIENT_ID, AZURE_TENANT_ID), a
ClientAssertionCredential comes first whose assertion is a fresh GitHub ID token each time Entra ID is asked for an
access token. azure-identity has no such credential for GitHub: WorkloadIdentityCredential reads a token file
(AZURE_FEDERATED_TOKEN_FILE, Kubernetes) and AzurePipelinesCredential asks Azure DevOps (SYSTEM_OIDCREQUESTURI).
https://docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-cloud-providers
https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust (audience)
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

# The audience Entra ID expects in a federated credential's assertion (the default of `azure/login`).
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
GITHUB_TOKEN_TIMEOUT = 30


def github_token_url(request_url: str, audience: str = GITHUB_AUDIENCE) -> str:
    """ACTIONS_ID_TOKEN_REQUEST_URL with the audience added to its query (it already carries api-version)."""
    parts = urlsplit(request_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "audience"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("audience", audience)])))


def github_id_token(request_url: str, request_token: str) -> Callable[[], str]:
    """A function returning a fresh GitHub ID token each call (never cached: each lives about ten minutes)."""
    url = github_token_url(request_url)

    def fetch() -> str:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {request_token}",
                                                       "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=GITHUB_TOKEN_TIMEOUT) as response:  # noqa: S310 (https on GitHub)
                token = json.load(response).get("value")
        except (OSError, ValueError) as e:  # the request token is never part of the message
            raise ClientAuthenticationError(f"could not get a GitHub ID token for Azure sign-in "
                                            f"({type(e).__name__}: {getattr(e, 'reason', e)}); does the job have "
                                            "`permissions: id-token: write`?") from None
        if not isinstance(token, str) or not token:
            raise ClientAuthenticationError("GitHub's ID token endpoint answered without a token (no `value`)")
        return token

    return fetch


GITHUB_FEDERATION_VARIABLES = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_CLIENT_ID",
                               "AZURE_TENANT_ID")


def github_federation(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this is a GitHub Actions job that may mint ID tokens and names the app registration to sign in as."""
    return all(env.get(k) for k in GITHUB_FEDERATION_VARIABLES)


def azure_credential(env: Mapping[str, str] = os.environ) -> TokenCredential:
    """GitHub federation first when the job can use it, then DefaultAzureCredential (az login, managed identity...)."""
    from azure.identity import ChainedTokenCredential, ClientAssertionCredential, DefaultAzureCredential

    chain: list[TokenCredential] = []
    if github_federation(env):
        fetch = github_id_token(env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        chain.append(ClientAssertionCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], fetch))
    chain.append(DefaultAzureCredential())
    return ChainedTokenCredential(*chain)

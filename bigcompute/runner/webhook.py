"""The optional completion webhook: a POST of the run's summary as JSON (report.summary). The summary holds names,
counts, times and cost, never a key or SAS token; the webhook's own URL often carries one, so no message shows
more of it than its host."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from bigcompute.runner.errors import DeployError


def post(url: str, body: dict, timeout: float = 10.0) -> str:
    """POST `body` as JSON to the webhook; the sentence names only its host (a webhook URL often carries a token)."""
    host = urlsplit(url).hostname or "the webhook"
    try:
        answer = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as e:
        raise DeployError(f"the completion webhook at {host} did not answer ({type(e).__name__})") from None
    if answer.status_code >= 400:
        raise DeployError(f"the completion webhook at {host} answered HTTP {answer.status_code}")
    return f"posted the run's summary to the completion webhook at {host} (HTTP {answer.status_code})"

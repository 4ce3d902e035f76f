"""The signature verifies with the README's recipe, run exactly as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import services
from tests.factories import DealFactory
from webhooks.services.deliveries import event_deliver
from webhooks.signing import SIGNATURE_HEADER

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_verify():
    """The `verify` function of the README's Python block after `<!-- webhook-verify -->`."""
    text = README.read_text()
    match = re.search(r"<!-- webhook-verify -->\s*```python\n(.*?)```", text, re.S)
    assert match, "the README has no marked verification recipe"
    namespace: dict = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


@pytest.mark.django_db
def test_a_delivery_verifies_with_the_documented_recipe(
    endpoint, receiver, alice, stages_a, django_capture_on_commit_callbacks
):
    verify = documented_verify()
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")
    with django_capture_on_commit_callbacks(execute=False):
        services.deal_move(
            acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version
        )
    [event] = endpoint.deliveries.values_list("event_id", flat=True)
    event_deliver(event_id=str(event))

    [request] = receiver.received
    header = request.headers[SIGNATURE_HEADER]
    assert verify(endpoint.test_secret, header, request.body)
    assert request.payload["type"] == "deal.moved"
    assert request.payload["id"] == str(event) == request.headers["CRM-Event-Id"]
    # Anything else changed is refused: the body, the secret, the timestamp.
    assert not verify(endpoint.test_secret, header, request.body + b" ")
    assert not verify("whsec_wrong", header, request.body)
    timestamp = int(header.split(",")[0][2:])
    moved = header.replace(f"t={timestamp}", f"t={timestamp + 1}")
    assert not verify(endpoint.test_secret, moved, request.body)
    assert not verify(endpoint.test_secret, "", request.body)


def test_an_old_signature_is_refused_by_the_recipe():
    from webhooks.signing import signature_header

    verify = documented_verify()
    body = b'{"id": "x"}'
    old = signature_header(secret="whsec_a", timestamp=1_000_000_000, body=body)
    assert not verify("whsec_a", old, body)

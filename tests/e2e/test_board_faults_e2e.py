"""A drag the database cannot take, in a real browser: the card goes back to where it was and
a toast says what to do. The fault is made in the server's own code path (the live server
runs in this process), so the real middleware and templates answer."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pipeline.models import Deal
from tests.e2e.conftest import log_in
from tests.factories import DealFactory
from tests.test_database_faults import database_error

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("sqlstate", "status", "message"),
    [
        ("40P01", 409, "Many changes arrived at the same moment. Please try again."),
        ("08006", 503, "Try again in a moment."),
    ],
)
def test_a_drag_the_database_refuses_goes_back_with_a_toast(
    page, alice, stages_a, output_dir, sqlstate, status, message
):
    moving = DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet")
    anchor = DealFactory(stage=stages_a[1], owner=alice, title="Cold storage")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    with (
        mock.patch(
            "pipeline.services.deals._position_from_lock", side_effect=database_error(sqlstate)
        ),
        page.expect_response(lambda r: "/move/" in r.url) as move,
    ):
        page.locator(f"#deal-{moving.pk}").drag_to(page.locator(f"#deal-{anchor.pk}"))
    assert move.value.status == status
    expect(page.locator("#toasts .toast-error").first).to_contain_text(message)
    expect(page.locator(f"#stage-{stages_a[0].pk}-cards #deal-{moving.pk}")).to_be_visible()
    expect(page.locator(f"#deal-{moving.pk}")).not_to_have_class("is-saving")
    page.screenshot(path=output_dir / f"board-drag-refused-{status}.png")
    assert Deal.objects.get(pk=moving.pk).stage_id == stages_a[0].pk

"""The weekly review in a real browser: a manager sets a next step on one deal and pushes
another's close date, in place; both persist (database, and the page after reload)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from pipeline.models import Deal
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_sets_a_next_step_and_pushes_a_close_date(page, bob, alice, stages_a, output_dir):
    today = timezone.localdate()
    planless = DealFactory(
        stage=stages_a[1],
        owner=alice,
        title="Forklift fleet",
        expected_close_date=today + timedelta(days=25),
    )
    closing = DealFactory(
        stage=stages_a[2],
        owner=alice,
        title="Racking upgrade",
        expected_close_date=today + timedelta(days=3),
    )
    log_in(page, "bob")
    page.goto(reverse("review"))
    expect(page.locator("#review-progress")).to_contain_text("0 of 2 reviewed")

    # The next step, in the "no next step" section.
    row = page.locator(f"#review-next-step-{planless.pk}")
    row.get_by_role("link", name="Next step").click()
    panel = row.locator(".review-panel")
    expect(panel).to_be_visible()
    panel.locator("input[name=subject]").fill("Demo at the warehouse")
    panel.locator("input[name=due_date]").fill((today + timedelta(days=2)).isoformat())
    with page.expect_response(lambda r: "/next-step/" in r.url) as saved:
        panel.get_by_role("button", name="Save next step").click()
    assert saved.value.status == 200
    row = page.locator(f"#review-next-step-{planless.pk}")
    expect(row.locator(".review-note")).to_contain_text("Next step planned")
    expect(row.locator(".review-step")).to_contain_text("Demo at the warehouse")

    # Push the other deal's close date by a week, in the "closing soon" section.
    row = page.locator(f"#review-closing-soon-{closing.pk}")
    row.get_by_role("link", name="Close date").click()
    with page.expect_response(lambda r: "/close-date/" in r.url) as pushed:
        row.locator(".review-panel").get_by_role("button", name="+1 week").click()
    assert pushed.value.status == 200
    new_date = today + timedelta(days=10)
    row = page.locator(f"#review-closing-soon-{closing.pk}")
    expect(row.locator(".review-note")).to_contain_text("Close date moved")
    page.screenshot(path=output_dir / "review-after-actions.png", full_page=True)

    planless.refresh_from_db()
    closing.refresh_from_db()
    assert planless.next_step_subject == "Demo at the warehouse"
    assert planless.next_step_due == today + timedelta(days=2)
    assert closing.expected_close_date == new_date and closing.version == 2

    page.reload()
    # Planned: no longer in the "no next step" section; 10 days out: still closing soon.
    expect(page.locator(f"#review-next-step-{planless.pk}")).to_have_count(0)
    expect(page.locator(f"#review-closing-later-{planless.pk} .review-step")).to_contain_text(
        "Demo at the warehouse"
    )
    expect(page.locator(f"#review-closing-soon-{closing.pk} .review-close")).to_contain_text(
        f"{new_date.day} {new_date.strftime('%b')}"
    )
    assert Deal.objects.get(pk=closing.pk).expected_close_date == new_date
    page.screenshot(path=output_dir / "review-after-reload.png", full_page=True)


def test_show_more_appends_the_next_rows_and_they_act_in_place(page, bob, alice, stages_a):
    from pipeline.selectors.review import ROW_LIMIT

    deals = [
        DealFactory(stage=stages_a[1], owner=alice, title=f"Planless {i:02d}")
        for i in range(ROW_LIMIT + 3)
    ]
    log_in(page, "bob")
    page.goto(reverse("review"))
    rows = page.locator("#section-next-step-rows article")
    expect(rows).to_have_count(ROW_LIMIT)
    more = page.locator("#section-next-step-more")
    expect(more).to_contain_text("and 3 more")
    with page.expect_response(lambda r: "/review/sections/next-step/" in r.url) as shown:
        more.get_by_role("link", name="Show more").click()
    assert shown.value.status == 200
    expect(rows).to_have_count(ROW_LIMIT + 3)
    expect(page.locator("#section-next-step-more")).to_contain_text("All of them are shown.")

    # An appended row acts in place like the first ones.
    last = deals[-1]
    row = page.locator(f"#review-next-step-{last.pk}")
    row.get_by_role("link", name="Close date").click()
    with page.expect_response(lambda r: "/close-date/" in r.url) as pushed:
        row.locator(".review-panel").get_by_role("button", name="+1 week").click()
    assert pushed.value.status == 200
    expect(page.locator(f"#review-next-step-{last.pk} .review-note")).to_contain_text(
        "Close date moved"
    )
    assert Deal.objects.get(pk=last.pk).version == 2

"""The first run in a real browser: the admin of an empty install is led from the board to
the first team, then to its pipeline, and lands on the new board."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline.models import Pipeline
from tests.e2e.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_up_the_first_team_and_pipeline_from_the_first_run_page(page, output_dir):
    UserFactory(username="root", is_superuser=True, is_staff=True)
    log_in(page, "root")

    expect(page.locator("h1")).to_have_text("Set up your CRM")
    page.screenshot(path=str(output_dir / "first-run-laptop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(output_dir / "first-run-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/review/")  # was a 404 on an empty install
    expect(page.locator("h1")).to_have_text("Set up your CRM")
    page.click("text=Create the first team")
    page.fill("input[name=name]", "Sales North")
    page.click("button:has-text('Add team')")
    expect(page.locator(".alert-info")).to_contain_text("Next: a pipeline for this team")

    page.goto("/")
    expect(page.locator(".setup-steps li.is-done")).to_contain_text("Create a team")
    page.screenshot(path=str(output_dir / "first-run-step-two-laptop.png"), full_page=True)
    page.click(".setup-steps li.is-next >> text=Create a pipeline")
    page.fill("input[name=name]", "New business")
    page.click("button:has-text('Create pipeline')")
    page.wait_for_url("**/settings/pipelines/*/")

    page.goto("/")
    page.wait_for_url("**/board/")
    pipeline = Pipeline.objects.get(name="New business")
    assert page.url.endswith(f"/pipelines/{pipeline.pk}/board/")
    expect(page.locator(".column").first).to_be_visible()


def test_a_salesperson_in_no_team_is_told_to_ask_an_admin(page, output_dir):
    UserFactory(username="newcomer")
    log_in(page, "newcomer")

    for path in ("/", "/forecast/", "/review/", "/companies/"):
        page.goto(path)
        expect(page.locator("h1")).to_have_text("You are not in a team yet")
    page.screenshot(path=str(output_dir / "not-in-a-team-laptop.png"), full_page=True)

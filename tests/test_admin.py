from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import DealFactory, UserFactory


@pytest.mark.django_db
def test_every_registered_model_lists_for_a_superuser(client, stages_a):
    DealFactory(stage=stages_a[0])
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_staff_rights_come_from_superuser_not_from_the_admin_role(client, admin):
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302  # the in-app admin role is not Django admin access

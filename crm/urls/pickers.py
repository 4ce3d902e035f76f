"""The pickers' searches (crm/views/pickers.py)."""

from django.urls import path

from crm.views import pickers

urlpatterns = [
    path("companies/search/", pickers.company_search, name="company-search"),
    path("contacts/search/", pickers.contact_search, name="contact-search"),
]

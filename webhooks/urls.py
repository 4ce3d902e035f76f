"""Settings pages of webhooks (admins only), under /settings/."""

from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="settings-webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="settings-webhook"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="settings-webhook-delete"),
    path("webhooks/<int:pk>/secret/", views.webhook_secret_rotate, name="settings-webhook-secret"),
    path("webhooks/<int:pk>/active/", views.webhook_set_active, name="settings-webhook-active"),
    path("webhooks/<int:pk>/test/", views.webhook_send_test, name="settings-webhook-test"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/resend/",
        views.webhook_delivery_resend,
        name="settings-webhook-resend",
    ),
]

"""Settings pages for users and teams, included under /settings/."""

from django.urls import path

from accounts import views_settings as views

urlpatterns = [
    path("users/", views.users_list, name="settings-users"),
    path("users/new/", views.user_create, name="settings-user-create"),
    path("users/<int:pk>/", views.user_detail, name="settings-user-detail"),
    path("users/<int:pk>/teams/", views.user_membership_add, name="settings-user-membership-add"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="settings-user-deactivate"),
    path("users/<int:pk>/reactivate/", views.user_reactivate, name="settings-user-reactivate"),
    path(
        "users/<int:pk>/password-link/",
        views.user_password_link,
        name="settings-user-password-link",
    ),
    path("memberships/<int:pk>/", views.membership_update, name="settings-membership-update"),
    path(
        "memberships/<int:pk>/remove/", views.membership_remove, name="settings-membership-remove"
    ),
    path("teams/", views.teams_list, name="settings-teams"),
    path("teams/<int:pk>/", views.team_detail, name="settings-team-detail"),
    path("teams/<int:pk>/members/", views.team_member_add, name="settings-team-member-add"),
]

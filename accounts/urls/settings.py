"""Settings pages for users and teams, included under /settings/."""

from django.urls import path

from accounts.views import invitations, memberships, teams, users

urlpatterns = [
    path("users/", users.users_list, name="settings-users"),
    path("users/new/", users.user_create, name="settings-user-create"),
    path("users/<int:pk>/", users.user_detail, name="settings-user-detail"),
    path("users/<int:pk>/teams/", users.user_membership_add, name="settings-user-membership-add"),
    path("users/<int:pk>/deactivate/", users.user_deactivate, name="settings-user-deactivate"),
    path("users/<int:pk>/reactivate/", users.user_reactivate, name="settings-user-reactivate"),
    path(
        "users/<int:pk>/password-link/",
        users.user_password_link,
        name="settings-user-password-link",
    ),
    path("invitations/", invitations.invitation_create, name="settings-invitation-create"),
    path(
        "invitations/<int:pk>/resend/",
        invitations.invitation_resend,
        name="settings-invitation-resend",
    ),
    path(
        "invitations/<int:pk>/revoke/",
        invitations.invitation_revoke,
        name="settings-invitation-revoke",
    ),
    path("memberships/<int:pk>/", memberships.membership_update, name="settings-membership-update"),
    path(
        "memberships/<int:pk>/remove/",
        memberships.membership_remove,
        name="settings-membership-remove",
    ),
    path("teams/", teams.teams_list, name="settings-teams"),
    path("teams/<int:pk>/", teams.team_detail, name="settings-team-detail"),
    path("teams/<int:pk>/members/", teams.team_member_add, name="settings-team-member-add"),
]

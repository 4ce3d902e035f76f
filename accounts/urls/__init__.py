"""Sign in, sign out, password change, set-password links and password reset by e-mail."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import auth as views
from accounts.views import invitations, profile


def _page(route: str, view, template: str, name: str, **options):
    """One of Django's auth views, drawn with our template."""
    return path(route, view.as_view(template_name=f"registration/{template}", **options), name=name)


urlpatterns = [
    path("profile/", profile.profile, name="profile"),
    # The user menu's language switcher and the profile's choice; before signing in too.
    path("language/", profile.language_set, name="language-set"),
    path("profile/api-tokens/", profile.api_token_create, name="api-token-create"),
    path("profile/api-tokens/<int:pk>/revoke/", profile.api_token_revoke, name="api-token-revoke"),
    _page("login/", auth_views.LoginView, "login.html", "login", redirect_authenticated_user=True),
    # Django's LogoutView answers POST only: a link or an image cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    _page(
        "password/done/",
        auth_views.PasswordChangeDoneView,
        "password_change_done.html",
        "password_change_done",
    ),
    # "Forgot your password?": the mailed link is a set-password link like an invitation's.
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    _page(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView,
        "password_reset_sent.html",
        "password-reset-sent",
    ),
    path("set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password-set"),
    # An e-mailed invitation: choose your name and password, and you are signed in.
    path(
        "invitation/<uidb64>/<token>/",
        invitations.invitation_accept,
        name="invitation-accept",
    ),
    _page(
        "set-password/done/",
        auth_views.PasswordResetCompleteView,
        "password_set_done.html",
        "password-set-done",
    ),
]

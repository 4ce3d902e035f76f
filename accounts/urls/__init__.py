"""Sign in, sign out, password change, set-password links and password reset by e-mail."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import auth as views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    # Django's LogoutView answers POST only: a link or an image cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="registration/password_change_done.html"
        ),
        name="password_change_done",
    ),
    # "Forgot your password?": the mailed link is a set-password link like an invitation's.
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="registration/password_reset_sent.html"
        ),
        name="password-reset-sent",
    ),
    path("set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password-set"),
    path(
        "set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_set_done.html"
        ),
        name="password-set-done",
    ),
]

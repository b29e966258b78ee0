from django.urls import path

from realtime import apis, views

urlpatterns = [
    path("", views.trading_page, name="trading-page"),
    path("ui/<str:name>", views.asset, name="trading-asset"),
    path("events", apis.EventsView.as_view(), name="events"),
    path("poll", apis.poll_view, name="poll"),
    path("auth/login", apis.LoginView.as_view(), name="auth-login"),
]

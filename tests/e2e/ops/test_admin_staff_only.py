"""The ops console over real HTTP: every screen renders for the staff user `ops`; a logged-in
non-staff user and an anonymous caller are sent to the login page instead."""

import pytest

from tests.e2e.ops.conftest import admin_login, manage

SCREENS = ["/admin/", "/admin/ops/projectedorder/", "/admin/ops/projectedtrade/",
           "/admin/ops/reconciliationrun/", "/admin/ops/finding/",
           "/admin/tulip/featureflagoverride/", "/admin/ops/regionstate/",
           "/admin/ops/metricsample/", "/admin/ops/streamcheckpoint/",
           "/admin/ops/projectedorder/?symbol=TULIP&status__exact=OPEN",
           "/admin/ops/finding/?kind=double_fill&review_state__exact=new"]


@pytest.mark.parametrize("path", SCREENS)
def test_staff_sees_every_screen(ops_client, path):
    response = ops_client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert "TulipBroker ops console" in response.text


def test_non_staff_and_anonymous_are_refused(console_stack):
    created = manage(console_stack, "shell", "-c",
                     "from django.contrib.auth.models import User; "
                     "User.objects.filter(username='trader1').delete(); "
                     "User.objects.create_user('trader1', password='Not-staff-2026!')")
    assert created.returncode == 0, created.stderr
    trader = admin_login(console_stack, "trader1", "Not-staff-2026!")
    anonymous = console_stack.http()
    for client in (trader, anonymous):
        for path in ("/admin/ops/finding/", "/admin/tulip/featureflagoverride/",
                     "/admin/ops/regionstate/"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 302, (path, response.status_code)
            assert "/admin/login/" in response.headers["location"]

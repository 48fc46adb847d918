"""The smoke check's steps (each is run end to end against the real backend in test_smoke.py)."""
from todoops.redaction import REDACTOR
from todoops.smoke_http import Client
from todoops.smoke_steps import POD_STEP, STEPS, Run, steps_for, throwaway_account


def test_the_throwaway_account_is_marked_and_its_password_redacted():
    account = throwaway_account()
    assert account.email.startswith("smoke-") and account.email.endswith("@smoke.invalid")
    assert account != throwaway_account()
    assert REDACTOR(account.password) == "***"


def test_the_session_is_tried_on_each_backend_pod_right_after_the_login_when_pods_are_known():
    def run(pods):
        return Run(Client("http://127.0.0.1:1", "smoke-test"), throwaway_account(), pods)

    assert [name for name, _ in steps_for(run(()))] == [name for name, _ in STEPS]
    assert [name for name, _ in steps_for(run([("pod-a", "http://127.0.0.1:2")]))][:3] == [
        "register", "log in", POD_STEP[0]]

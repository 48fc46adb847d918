"""The smoke check's steps: what a person does with the app, each a function of one ``Run``.

Assumptions: the steps write to the app's database, as a throw-away account
named ``smoke-<hex>@smoke.invalid`` with a random password (registered with the
redaction filter at once); ``delete_account`` removes it again through the
backend's ``DELETE /api/auth/me``. Each step builds on the ones before it (the
login's session, the task it made). The frontend's keep-alive connections stick
to one backend pod each, so a pod that refuses the others' tokens (another
JWT_SECRET) would be met only by chance: right after the login, the session is
also tried on each serving backend pod directly (``every_backend_pod_accepts``).
"""
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .redaction import REDACTOR
from .smoke_http import Client, StepFailed, bearer, session_of

# A token is only accepted by backend pods that share the secret it was signed with. When two
# disagree, each attempt (a fresh login, then the deletion, through random frontend pods) succeeds
# at least every other time: 20 leave the account behind less than once in a million runs.
DELETE_ATTEMPTS = 20
TASK_TITLE = "smoke check task"
RENAMED_TITLE = "smoke check task (renamed)"
CHAT_MESSAGE = "add buy milk tomorrow"


@dataclass(frozen=True)
class Account:
    email: str
    password: str

    @property
    def credentials(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}


def throwaway_account() -> Account:
    """A new account nobody else uses, recognisable as the smoke check's in the database."""
    account = Account(f"smoke-{secrets.token_hex(6)}@smoke.invalid", secrets.token_urlsafe(24))
    REDACTOR.add(account.password)
    return account


@dataclass
class Run:
    """One pass of the flow: the client, the throw-away account and what the steps made."""

    client: Client
    account: Account
    # (pod name, base URL) of each serving backend pod, reached directly (a port-forward).
    backend_pods: Sequence[tuple[str, str]] = ()
    registered: bool = False
    token: str = ""
    task_id: int = 0
    chat_task_id: int = 0


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(200, what)


def register(run: Run) -> None:
    run.client.call("POST", "/api/auth/register", run.account.credentials, expect=201)
    run.registered = True


def log_in(run: Run) -> None:
    body, headers = run.client.call("POST", "/api/auth/login", run.account.credentials, shape=dict)
    run.token, session = session_of(headers, body)
    run.client.log_in_with(session)


def every_backend_pod_accepts(run: Run) -> None:
    """Each backend pod honours the session. A pod with another JWT_SECRET refuses every token the
    others sign, but through the frontend that shows only by chance: the frontend's keep-alive
    connections stick to one backend pod each. So each pod is asked directly."""
    for name, url in run.backend_pods:
        pod = Client(url, run.client.run_id)
        pod.log_in_with(bearer(run.token))
        try:
            pod.call("GET", "/api/auth/me", shape=dict)
        except StepFailed as refused:
            raise StepFailed(refused.status, f"pod {name}: {refused.detail}", refused.code) from None


def create_task(run: Run) -> None:
    task, _ = run.client.call("POST", "/api/tasks", {"title": TASK_TITLE}, expect=201, shape=dict)
    expect(task.get("title") == TASK_TITLE and isinstance(task.get("id"), int), f"created task is {task!r:.80}")
    run.task_id = task["id"]


def list_tasks(run: Run) -> None:
    tasks, _ = run.client.call("GET", "/api/tasks", shape=list)
    expect(run.task_id in [task.get("id") for task in tasks if isinstance(task, dict)],
           f"task {run.task_id} is not in the list")


def update_task(run: Run) -> None:
    task, _ = run.client.call("PATCH", f"/api/tasks/{run.task_id}", {"title": RENAMED_TITLE}, shape=dict)
    expect(task.get("title") == RENAMED_TITLE, f"task {run.task_id} kept title {task.get('title')!r}")


def complete_task(run: Run) -> None:
    task, _ = run.client.call("PATCH", f"/api/tasks/{run.task_id}", {"done": True}, shape=dict)
    expect(task.get("done") is True, f"task {run.task_id} is not done")


def delete_task(run: Run) -> None:
    run.client.call("DELETE", f"/api/tasks/{run.task_id}", expect=204)
    try:
        run.client.call("GET", f"/api/tasks/{run.task_id}", expect=404)
    except StepFailed as still:
        raise StepFailed(still.status, f"task {run.task_id} still answers after its deletion") from None


def chat(run: Run) -> None:
    answer, _ = run.client.call("POST", "/api/chat", {"message": CHAT_MESSAGE}, shape=dict)
    created = [action.get("task_id") for action in answer.get("actions") or []
               if isinstance(action, dict) and action.get("type") == "create"]
    expect(bool(created) and isinstance(created[0], int),
           f"the chat created no task (reply: {str(answer.get('reply'))[:80]!r})")
    run.chat_task_id = created[0]


def chat_task_exists(run: Run) -> None:
    task, _ = run.client.call("GET", f"/api/tasks/{run.chat_task_id}", shape=dict)
    expect("milk" in str(task.get("title", "")).lower(), f"chat task {run.chat_task_id} is {task.get('title')!r}")


Step = Callable[[Run], None]
STEPS: tuple[tuple[str, Step], ...] = (
    ("register", register), ("log in", log_in), ("create task", create_task), ("list tasks", list_tasks),
    ("update task", update_task), ("complete task", complete_task), ("delete task", delete_task),
    ("chat", chat), ("chat task exists", chat_task_exists),
)
POD_STEP = ("every backend pod", every_backend_pod_accepts)


def steps_for(run: Run) -> tuple[tuple[str, Step], ...]:
    """The steps, with the session checked on each backend pod right after the login when pods are known."""
    return (*STEPS[:2], POD_STEP, *STEPS[2:]) if run.backend_pods else STEPS


def delete_account(run: Run) -> None:
    """Remove the throw-away account and its data, then prove it can no longer log in."""
    for attempt in range(DELETE_ATTEMPTS):
        try:
            run.client.call("DELETE", "/api/auth/me", expect=204)
            break
        except StepFailed as refused:
            if refused.status != 401 or attempt == DELETE_ATTEMPTS - 1:
                raise
            # Not logged in (login failed), or a pod refused another pod's token: log in afresh.
            log_in(run)
    try:
        run.client.call("POST", "/api/auth/login", run.account.credentials, expect=401)
    except StepFailed as still:
        raise StepFailed(still.status, "the account still logs in after its deletion") from None

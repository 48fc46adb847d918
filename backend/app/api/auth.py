from fastapi import APIRouter, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.api.deps import RuntimeDep, SessionsDep, UserIdDep
from app.errors import ApiError, not_authenticated
from app.models import Task, User
from app.schemas import Credentials, TokenOut, UserOut
from app.security import DUMMY_HASH, create_access_token, hash_password, verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _email_taken() -> ApiError:
    return ApiError(409, "email_taken", "An account with this email already exists")


@router.post("/register", status_code=201, response_model=UserOut)
def register(body: Credentials, sessions: SessionsDep) -> User:
    # Hash before opening a session: the slow KDF must not hold a pooled connection.
    password_hash = hash_password(body.password)
    with sessions() as session:
        if session.scalar(select(User.id).where(User.email == body.email)) is not None:
            raise _email_taken()
        user = User(email=body.email, password_hash=password_hash)
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            # Two registrations of one email at once: the unique index decides.
            raise _email_taken()
    return user


@router.post("/login", response_model=TokenOut)
def login(body: Credentials, sessions: SessionsDep, runtime: RuntimeDep) -> TokenOut:
    # The session closes before the slow KDF below, so no pooled connection waits on it.
    with sessions() as session:
        user = session.scalar(select(User).where(User.email == body.email))
    # Hash even for unknown emails so timing does not reveal which accounts exist.
    valid = verify_password(body.password, user.password_hash if user else DUMMY_HASH)
    if user is None or not valid:
        raise ApiError(401, "invalid_credentials", "Invalid email or password")
    minutes = runtime.settings.jwt_expire_minutes
    token = create_access_token(user.id, runtime.settings.jwt_secret, minutes)
    return TokenOut(access_token=token, expires_in=minutes * 60)


@router.get("/me", response_model=UserOut)
def me(user_id: UserIdDep, sessions: SessionsDep) -> User:
    with sessions() as session:
        user = session.get(User, user_id)
    if user is None:
        raise not_authenticated()
    return user


@router.delete("/me", status_code=204)
def delete_me(user_id: UserIdDep, sessions: SessionsDep) -> Response:
    """The caller's account and everything it owns, in one transaction.

    Tasks are deleted explicitly rather than left to ON DELETE CASCADE: a SQLite connection that
    lacks PRAGMA foreign_keys would otherwise keep them, orphaned. Tokens are stateless and stay
    signed until they expire; ids are never reused (see migration 0002), so a leftover token can
    never reach another account.
    """
    with sessions() as session:
        session.execute(delete(Task).where(Task.user_id == user_id))
        if session.execute(delete(User).where(User.id == user_id)).rowcount == 0:
            raise not_authenticated()
        session.commit()
    return Response(status_code=204)

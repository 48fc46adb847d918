"""Password hashing (scrypt, a memory-hard KDF from the standard library) and JWTs."""

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

import jwt

# scrypt cost: 16 MiB of memory and ~50 ms per hash; stored in each hash so it can grow later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
JWT_ALGORITHM = "HS256"
# Each scrypt call holds 16 MiB; a burst of 40 logins on 40 worker threads would need 640 MiB and
# starve the CPU. Queueing the few extra KDF runs keeps memory bounded under any burst.
_KDF_SLOTS = threading.BoundedSemaphore(4)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    with _KDF_SLOTS:
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


# Verified against when the email is unknown, so a login takes as long either way.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_access_token(user_id: int, secret: str, expire_minutes: int) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=expire_minutes)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str, secret: str) -> int | None:
    """The user id a valid, unexpired token names, else None."""
    verified = _verified_claims(token, secret)
    if verified is None:
        return None
    user_id, expires_at = verified
    # Checked again on every call: a cached token must stop working the moment it expires.
    return user_id if time.time() < expires_at else None


# A token's claims never change, so verifying it once is enough; decoding and checking the signature
# on every request cost more than the task query. Bounded, so junk tokens cannot grow it.
@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> tuple[int, float] | None:
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        return int(claims["sub"]), float(claims["exp"])
    except (jwt.InvalidTokenError, ValueError):
        return None

"""Sign-in throttling (SPEC §8), after OWASP's device-cookie pattern.

- A browser that signed in to an account before carries a signed device cookie for it: an attack
  on the account from elsewhere does not slow its owner down (only that device's own generous
  counter applies).
- Unknown devices share a per-account back-off that grows with failures: five attempts free in 15
  minutes, then 1 s, 2 s, 4 s … up to 15 minutes between attempts. An attacker guessing from many
  addresses gets a handful of guesses an hour; the owner, on their known device, is not locked out.
- Per (address, account) counters and a high per-address ceiling keep one office's typos (one
  public address) from locking another user out.

Every attempt is counted BEFORE the password is checked, each counter in one atomic statement
that also refuses when it is full (reserve, then verify): thirty parallel guesses cannot all pass
a check made before any of them is recorded. A success clears the account's counters. A refusal
is RateLimited (429 with Retry-After): the server never sleeps. The counting commits in its own
short transaction; the password hash runs outside any transaction (on SQLite a write transaction
holds the database's only write lock).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from app.accounts import repository
from app.errors import RateLimited

WINDOW = 15 * 60.0
PAIR_LIMIT = 10  # attempts per (address, account) per window, from unknown devices
ADDRESS_LIMIT = 100  # attempts per address per window, every account together
DEVICE_LIMIT = 20  # attempts per known device and account per window
PASSWORD_CHECK_LIMIT = 5  # current-password checks per user per window (/account/password)
FREE_ATTEMPTS = 5
BACK_OFF_CAP = WINDOW
# After the n-th attempt of the window, the next waits this long (unknown devices, per account).
BACK_OFF = {
    n: (0.0 if n < FREE_ATTEMPTS else min(2.0 ** (n - FREE_ATTEMPTS), BACK_OFF_CAP))
    for n in range(1, FREE_ATTEMPTS + 12)
}
DEVICE_COOKIE = "tracker_device"
DEVICE_COOKIE_DAYS = 365


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _sign(secret_key: str, payload: str) -> str:
    return hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def device_cookie(secret_key: str, email: str) -> str:
    """A new device cookie for the account just signed in to: `<device id>.<account>.<signature>`."""
    payload = f"{secrets.token_hex(12)}.{_digest(email.strip().lower())}"
    return f"{payload}.{_sign(secret_key, payload)}"


def known_device(secret_key: str, cookie: str | None, email: str) -> str | None:
    """The device id when `cookie` is a genuine device cookie of this account, else None."""
    parts = (cookie or "").split(".")
    if len(parts) != 3:
        return None
    device, account, signature = parts
    if not hmac.compare_digest(signature, _sign(secret_key, f"{device}.{account}")):
        return None
    if not hmac.compare_digest(account, _digest(email.strip().lower())):
        return None
    return device


def _keys(email: str, ip: str, device: str | None) -> dict[str, str]:
    account = _digest(email.strip().lower())
    return {
        "account": f"account:{account}",
        "pair": f"pair:{_digest(ip)}:{account}",
        "address": f"address:{_digest(ip)}",
        "device": f"device:{device}:{account}",
    }


def _refuse(wait: float) -> RateLimited:
    seconds = int(wait + 0.999)
    when = f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
    return RateLimited(f"Too many sign-in attempts. Try again in {when}.", retry_after=seconds)


def reserve(session: Session, *, email: str, ip: str, device: str | None, now: datetime) -> None:
    """Count this sign-in attempt (before its password is checked); raises RateLimited when a
    counter is full. Commit it in its own short transaction."""
    t = now.timestamp()
    keys = _keys(email, ip, device)
    wait = repository.count_in_window(
        session, keys["address"], now=t, window=WINDOW, limit=ADDRESS_LIMIT
    )
    if wait is None and device is not None:
        wait = repository.count_in_window(
            session, keys["device"], now=t, window=WINDOW, limit=DEVICE_LIMIT
        )
    elif wait is None:
        wait = repository.count_in_window(
            session, keys["pair"], now=t, window=WINDOW, limit=PAIR_LIMIT
        )
        if wait is None:
            wait = repository.count_with_back_off(
                session, keys["account"], now=t, window=WINDOW, delays=BACK_OFF, cap=BACK_OFF_CAP
            )
    if wait is not None:
        raise _refuse(wait)


def succeeded(session: Session, *, email: str, ip: str, device: str | None) -> None:
    """A right password: the counters this attempt went through start again (the address
    ceiling stays). The owner signing in on a known device does not lift an attack's back-off
    on unknown devices."""
    keys = _keys(email, ip, device)
    forget = [keys["device"]] if device is not None else [keys["account"], keys["pair"]]
    repository.forget_counters(session, forget)


def reserve_password_check(session: Session, *, user_id: int, now: datetime) -> None:
    """The current-password check of /account/password: 5 per user per 15 minutes."""
    wait = repository.count_in_window(
        session,
        f"password:{user_id}",
        now=now.timestamp(),
        window=WINDOW,
        limit=PASSWORD_CHECK_LIMIT,
    )
    if wait is not None:
        raise RateLimited(
            "Too many wrong current passwords. Try again later.", retry_after=int(wait + 0.999)
        )


def purge(session: Session, *, now: datetime) -> int:
    """Counters that no longer count anything (background jobs)."""
    return repository.purge_counters(session, before=now.timestamp() - WINDOW)

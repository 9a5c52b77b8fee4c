"""Password hashes: argon2id through argon2-cffi, with every verification counted.

The count lets tests prove that a wrong password and an unknown email cost the same (one
verification each) without measuring time or replacing anything.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from epctl.runtime.users.inputs import MAX_PASSWORD

# The hash of a random password nobody knows, made with argon2-cffi's default parameters (RFC 9106's
# low-memory profile). Unknown emails and accounts without a password are checked against it, so
# they cost exactly what a real account costs. Hashers with other parameters make their own.
_DEFAULT_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$HIa1ZMAqT3NspL4/XOfV0A$72v8rjfDEDEDSyP901q9W/VkbZfWYhAqgelGktfivxc"
)


class Passwords:
    """Hashes and verifies passwords with argon2id; `verifications` counts every verify call."""

    def __init__(self, parameters: Parameters | None = None) -> None:
        """`parameters` default to argon2-cffi's (RFC 9106 low memory); they must be argon2id.

        Raises ValueError for another argon2 variant.
        """
        if parameters is not None and parameters.type is not Type.ID:
            raise ValueError("passwords are hashed with argon2id only")
        self._hasher = PasswordHasher.from_parameters(parameters) if parameters else PasswordHasher()
        self._lock = threading.Lock()
        self._verifications = 0
        dummy = _DEFAULT_DUMMY_HASH
        if self._hasher.check_needs_rehash(dummy):
            dummy = self._hasher.hash(secrets.token_urlsafe(32))
        self._dummy_hash = dummy

    @property
    def verifications(self) -> int:
        """The number of password verifications this object has made."""
        return self._verifications

    def hash(self, password: str) -> str:
        """Return the argon2id hash (PHC string) of `password`."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Return whether `password` matches `password_hash`; always costs exactly one verification.

        With no hash (unknown email, account without a password) it verifies against a dummy hash
        and returns False. An over-long password is verified by its first MAX_PASSWORD characters,
        so the work stays bounded, and never matches.
        """
        with self._lock:
            self._verifications += 1
        target = password_hash if password_hash is not None else self._dummy_hash
        try:
            matched = self._hasher.verify(target, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None and len(password) <= MAX_PASSWORD

    def needs_rehash(self, password_hash: str) -> bool:
        """Return whether a stored hash was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

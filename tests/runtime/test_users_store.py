"""The user store on SQLite and on a real PostgreSQL: accounts, groups, sign-in, lockout, revocation."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import profiles
from sqlalchemy import select

from epctl.runtime.users import (
    DuplicateEmailError,
    InvalidUserDataError,
    NewUser,
    Passwords,
    UnknownUserError,
    UserStore,
    open_user_store,
)
from epctl.runtime.users.store import utc_now
from epctl.runtime.users.tables import users
from epctl.schemas.users_config import UsersConfig

THREAD_SECONDS = 60

# PostgreSQL fixtures (a cluster per session, a database per test): see tests/postgres.py.
pytest_plugins = ["tests.postgres"]


class Clock:
    """A clock a test moves by hand (the store takes any callable returning an aware datetime)."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


MakeStore = Callable[..., UserStore]


@pytest.fixture
def make_store(tmp_path: Path, users_env: dict[str, str]) -> Iterator[MakeStore]:
    """Return a function opening the test project's empty store with cheap argon2id hashes."""
    opened: list[UserStore] = []

    def make(config: UsersConfig | None = None, clock: Clock | None = None) -> UserStore:
        store = open_user_store(
            tmp_path,
            config or UsersConfig(),
            environ=users_env,
            passwords=Passwords(profiles.CHEAPEST),
            clock=clock or utc_now,
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> UserStore:
    return make_store()


def test_an_account_is_found_by_id_and_by_email_in_any_case(store: UserStore) -> None:
    user = store.create("Ada@Example.com", name="Ada Lovelace", groups=["admins", "installers"])
    assert (user.email, user.name, user.groups, user.enabled, user.has_password) == (
        "Ada@Example.com",
        "Ada Lovelace",
        ("admins", "installers"),
        True,
        False,
    )
    assert store.get(user.id) == user
    assert store.find("  ada@EXAMPLE.com ") == user
    assert store.find("bob@example.com") is None
    assert store.get("no-such-id") is None
    assert store.get("a\x00" * 16) is None
    assert store.session_generation("ada") is None  # a token minted by `epctl token --sub ada`


def test_an_email_is_unique_whatever_its_case(store: UserStore) -> None:
    store.create("ada@example.com")
    with pytest.raises(DuplicateEmailError) as caught:
        store.create("ADA@example.com")
    assert str(caught.value) == "a user with email ADA@example.com already exists"


NOT_AN_EMAIL = "is not an email address: use name@domain, at most 254 characters"
GROUP_RULE = "use 1-128 characters of A-Z a-z 0-9 . _ -"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "ada"}, f'"ada" {NOT_AN_EMAIL}'),
        ({"email": "a b@example.com"}, f'"a b@example.com" {NOT_AN_EMAIL}'),
        ({"password": "short"}, "a password needs at least 8 characters"),
        ({"password": ""}, "a password needs at least 8 characters"),
        ({"password": "x" * 1025}, "a password has at most 1024 characters"),
        ({"groups": ["site admins"]}, f'group "site admins" is not a valid group name: {GROUP_RULE}'),
        ({"name": "Ada\nLovelace"}, "a display name cannot hold control characters such as a line break"),
    ],
)
def test_bad_account_data_is_refused_with_what_to_do(
    store: UserStore, fields: dict[str, object], message: str
) -> None:
    account = {"email": "ada@example.com", **fields}
    with pytest.raises(InvalidUserDataError) as caught:
        store.create(**account)  # type: ignore[arg-type]  # the parametrized fields are the arguments
    assert str(caught.value) == message
    assert store.list() == []


def test_the_password_is_stored_as_argon2id_and_never_shown(store: UserStore) -> None:
    user = store.create("ada@example.com", "correct horse battery")
    with store.engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    shown = repr(user) + str(user.to_dict()) + repr(NewUser("a@b.c", password="correct horse battery"))
    assert "argon2" not in shown
    assert "correct horse" not in shown


def test_sign_in_costs_one_verification_whatever_the_answer(store: UserStore) -> None:
    """Right password, wrong password, unknown email, account without a password: one argon2
    verification each, and the three failures look the same (None)."""
    store.create("ada@example.com", "correct horse battery")
    store.create("bob@example.com")
    counted = store.passwords.verifications
    signed_in = store.authenticate("ADA@example.com", "correct horse battery")
    assert signed_in is not None and signed_in.email == "ada@example.com"
    assert store.passwords.verifications == counted + 1
    for email, password in [
        ("ada@example.com", "wrong horse battery"),
        ("nobody@example.com", "correct horse battery"),
        ("bob@example.com", "any password at all"),
        ("", "empty email"),
        ("ada\x00@example.com", "a NUL, which PostgreSQL refuses in text"),
        ("x" * 300 + "@example.com", "an email too long to look up"),
        ("ada@example.com", "correct horse battery" + "x" * 5000),
    ]:
        before = store.passwords.verifications
        assert store.authenticate(email, password) is None
        assert store.passwords.verifications == before + 1, email


def test_failed_sign_ins_lock_the_account_for_the_configured_time(make_store: MakeStore) -> None:
    clock = Clock()
    store = make_store(UsersConfig(lockout_threshold=3, lockout_seconds=60), clock)
    store.create("ada@example.com", "correct horse battery")
    for _ in range(3):
        assert store.authenticate("ada@example.com", "wrong password") is None
    user = store.find("ada@example.com")
    assert user is not None and user.locked_until == clock.now + timedelta(seconds=60)
    assert store.authenticate("ada@example.com", "correct horse battery") is None
    clock.now += timedelta(seconds=59)
    assert store.authenticate("ada@example.com", "correct horse battery") is None
    clock.now += timedelta(seconds=1)
    assert store.authenticate("ada@example.com", "correct horse battery") is not None


def test_only_failures_in_a_row_count(make_store: MakeStore) -> None:
    store = make_store(UsersConfig(lockout_threshold=3))
    store.create("ada@example.com", "correct horse battery")
    for _ in range(2):
        for _ in range(2):
            assert store.authenticate("ada@example.com", "wrong password") is None
        assert store.authenticate("ada@example.com", "correct horse battery") is not None


def test_failures_while_locked_do_not_extend_the_lock(make_store: MakeStore) -> None:
    clock = Clock()
    store = make_store(UsersConfig(lockout_threshold=2, lockout_seconds=60), clock)
    store.create("ada@example.com", "correct horse battery")
    for _ in range(2):
        store.authenticate("ada@example.com", "wrong password")
    clock.now += timedelta(seconds=30)
    for _ in range(5):
        store.authenticate("ada@example.com", "wrong password")
    clock.now += timedelta(seconds=30)
    assert store.authenticate("ada@example.com", "correct horse battery") is not None


def test_unlock_ends_a_lockout(store: UserStore) -> None:
    user = store.create("ada@example.com", "correct horse battery")
    for _ in range(10):
        store.authenticate("ada@example.com", "wrong password")
    assert store.find("ada@example.com").is_locked()  # type: ignore[union-attr]
    store.unlock(user)
    assert store.authenticate("ada@example.com", "correct horse battery") is not None


def test_a_disabled_account_cannot_sign_in_and_has_no_sessions(store: UserStore) -> None:
    user = store.create("ada@example.com", "correct horse battery")
    store.set_enabled(user, False)
    assert store.authenticate("ada@example.com", "correct horse battery") is None
    assert store.session_generation(user.id) is None
    store.set_enabled(user, True)
    assert store.authenticate("ada@example.com", "correct horse battery") is not None


def test_changes_that_must_end_sessions_bump_the_generation(store: UserStore) -> None:
    user = store.create("ada@example.com", "correct horse battery", groups=["admins"])
    assert store.session_generation(user.id) == user.generation == 1
    steps: list[tuple[str, Callable[[], object], int]] = [
        ("rename", lambda: store.set_name(user, "Ada"), 1),
        ("add a group already held", lambda: store.add_groups(user, ["admins"]), 1),
        ("remove a group not held", lambda: store.remove_groups(user, ["nope"]), 1),
        ("add a group", lambda: store.add_groups(user, ["installers"]), 2),
        ("remove a group", lambda: store.remove_groups(user.id, ["admins"]), 3),
        ("new password", lambda: store.set_password(user, "another password"), 4),
        ("disable", lambda: store.set_enabled(user, False), 5),
        ("enable", lambda: store.set_enabled(user, True), 5),
    ]
    for what, change, generation in steps:
        change()
        assert store.get(user.id).generation == generation, what  # type: ignore[union-attr]
    assert store.session_generation(user.id) == 5


def test_update_applies_every_change_at_once(store: UserStore) -> None:
    user = store.create("ada@example.com", groups=["a", "b"])
    updated = store.update(user, name="Ada", enabled=False, add_groups=["c"], remove_groups=["a"])
    assert (updated.name, updated.enabled, updated.groups, updated.generation) == (
        "Ada",
        False,
        ("b", "c"),
        2,
    )
    assert updated.updated_at >= user.updated_at
    with pytest.raises(InvalidUserDataError) as caught:
        store.update(user, add_groups=["x"], remove_groups=["x"])
    assert str(caught.value) == 'group "x" cannot be both added and removed'


def test_a_removed_account_is_gone_with_its_sessions(store: UserStore) -> None:
    user = store.create("ada@example.com", "correct horse battery", groups=["admins"])
    store.remove(user)
    assert store.get(user.id) is None
    assert store.session_generation(user.id) is None
    assert store.list(group="admins") == []
    with pytest.raises(UnknownUserError) as caught:
        store.remove(user)
    assert str(caught.value) == "no user with email ada@example.com"
    with pytest.raises(UnknownUserError) as caught:
        store.add_groups(user.id, ["x"])
    assert str(caught.value) == f"no user with id '{user.id}'"
    with pytest.raises(UnknownUserError) as caught:
        store.set_password("ada\x00", "a new password")
    assert str(caught.value) == "no user with id 'ada\\x00'"


def test_list_is_ordered_by_email_and_filters_by_group(store: UserStore) -> None:
    store.create("carol@example.com", groups=["admins"])
    store.create("Bob@example.com")
    store.create("ada@example.com", groups=["admins", "installers"])
    assert [u.email for u in store.list()] == ["ada@example.com", "Bob@example.com", "carol@example.com"]
    assert [u.email for u in store.list(group="admins")] == ["ada@example.com", "carol@example.com"]
    assert [u.groups for u in store.list(group="installers")] == [("admins", "installers")]
    assert store.list(group="nobody") == []


def test_create_many_writes_all_or_nothing(store: UserStore) -> None:
    store.create("taken@example.com")
    with pytest.raises(DuplicateEmailError) as caught:
        store.create_many([NewUser("new@example.com"), NewUser("TAKEN@example.com")])
    assert str(caught.value) == "a user with email TAKEN@example.com already exists"
    with pytest.raises(DuplicateEmailError):
        store.create_many([NewUser("a@example.com"), NewUser("A@example.com")])
    assert [u.email for u in store.list()] == ["taken@example.com"]
    created = store.create_many([NewUser("x@example.com", "X", ["g"]), NewUser("y@example.com")])
    assert created == [store.find("x@example.com"), store.find("y@example.com")]


def run_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_SECONDS)
        assert not thread.is_alive(), "a thread is stuck"


def test_concurrent_writers_neither_fail_nor_lose_writes(store: UserStore) -> None:
    """Threads creating accounts, and adding groups to one account, at the same time."""
    target = store.create("shared@example.com")
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for index in range(5):
                store.create(f"user{number}-{index}@example.com")
                store.add_groups(target, [f"g{number}-{index}"])
        except BaseException as err:  # reported below: a thread's exception is otherwise lost
            errors.append(err)

    run_threads(4, work)
    assert errors == []
    assert len(store.list()) == 21
    assert len(store.get(target.id).groups) == 20  # type: ignore[union-attr]
    assert store.get(target.id).generation == 21  # type: ignore[union-attr]


def test_concurrent_creates_of_one_email_leave_one_account(store: UserStore) -> None:
    outcomes: list[str] = []

    def work(number: int) -> None:
        try:
            store.create(f"Same{number}@Example.com".replace(str(number), ""))
            outcomes.append("created")
        except DuplicateEmailError as err:
            outcomes.append(str(err))

    run_threads(4, work)
    assert sorted(outcomes) == ["a user with email Same@Example.com already exists"] * 3 + ["created"]
    assert len(store.list()) == 1


def test_failed_sign_ins_from_many_workers_are_all_counted(make_store: MakeStore) -> None:
    """Two stores stand for two server processes sharing the database."""
    first, second = (
        make_store(UsersConfig(lockout_threshold=10)),
        make_store(UsersConfig(lockout_threshold=10)),
    )
    first.create("ada@example.com", "correct horse battery")

    def work(number: int) -> None:
        for _ in range(5):
            (first if number % 2 else second).authenticate("ada@example.com", "wrong password")

    run_threads(2, work)
    assert first.find("ada@example.com").is_locked()  # type: ignore[union-attr]


def test_a_hash_made_with_other_parameters_is_upgraded_at_sign_in(
    tmp_path: Path,
    make_store: MakeStore,
    users_env: dict[str, str],
) -> None:
    make_store().create("ada@example.com", "correct horse battery")
    stronger = dataclasses.replace(profiles.CHEAPEST, time_cost=2)
    with open_user_store(tmp_path, UsersConfig(), environ=users_env, passwords=Passwords(stronger)) as store:
        assert store.authenticate("ada@example.com", "correct horse battery") is not None
        with store.engine.connect() as connection:
            stored = connection.execute(select(users.c.password_hash)).scalar_one()
        assert ",t=2," in stored
        assert store.authenticate("ada@example.com", "correct horse battery") is not None

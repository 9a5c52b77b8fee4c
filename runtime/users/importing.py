"""Reading accounts from CSV (`epctl users import`): a header row `email,name,groups`.

Only `email` is required; `name` and `groups` may be left out, columns may come in any order.
Groups in a cell are separated by `;` (a comma would need quoting in every spreadsheet). A CSV never
holds passwords: they are set later with `epctl users passwd`, or by a sign-up workflow.
"""

from __future__ import annotations

import csv
import io

from epctl.runtime.users.errors import InvalidUserDataError, UsersError
from epctl.runtime.users.inputs import check_email, check_groups, check_name, email_key
from epctl.runtime.users.store import NewUser

COLUMNS = ("email", "name", "groups")
GROUP_SEPARATOR = ";"
MAX_ROWS = 100_000  # one transaction holds them all; beyond this, split the file


class CsvImportError(UsersError):
    """A CSV file that cannot be imported; the message names the file and line."""


def read_users_csv(text: str, file: str) -> list[tuple[int, NewUser]]:
    """Return the accounts of a users CSV, each with its line number, all checked.

    Blank lines are skipped. Raises CsvImportError naming `file`, the line and what to fix, for a
    bad header, a bad field or an email given twice (in any case).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        raise CsvImportError(
            f"{file} is empty: its first line must be the header email,name,groups"
        ) from None
    except csv.Error as err:
        raise CsvImportError(f"{file} line 1: {err}") from None
    _check_header(header, file)
    accounts: list[tuple[int, NewUser]] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(accounts) == MAX_ROWS:
                raise CsvImportError(f"{file} has more than {MAX_ROWS} users: split it into several files")
            if len(row) > len(header):
                raise CsvImportError(
                    f"{file} line {line}: {len(row)} fields, but the header has {len(header)} "
                    "(quote a field that holds a comma)"
                )
            fields = dict(zip(header, row, strict=False))
            try:
                account = _read_account(fields)
            except InvalidUserDataError as err:
                raise CsvImportError(f"{file} line {line}: {err}") from None
            key = email_key(account.email)
            if key in seen:
                raise CsvImportError(f"{file} line {line}: {account.email} is already on line {seen[key]}")
            seen[key] = line
            accounts.append((line, account))
    except csv.Error as err:
        raise CsvImportError(f"{file} line {reader.line_num}: {err}") from None
    return accounts


def _check_header(header: list[str], file: str) -> None:
    for column in header:
        if column == "password":
            raise CsvImportError(
                f"{file} line 1: a CSV never holds passwords: remove the password column and set "
                "passwords with `epctl users passwd EMAIL`"
            )
        if column not in COLUMNS:
            raise CsvImportError(
                f'{file} line 1: unknown column "{column}"; the header is email,name,groups '
                "(name and groups may be left out)"
            )
        if header.count(column) > 1:
            raise CsvImportError(f'{file} line 1: column "{column}" appears twice')
    if "email" not in header:
        raise CsvImportError(f"{file} line 1: the header needs an email column: email,name,groups")


def _read_account(fields: dict[str, str]) -> NewUser:
    groups = [group for group in fields.get("groups", "").split(GROUP_SEPARATOR) if group.strip()]
    return NewUser(
        email=check_email(fields.get("email", "")),
        name=check_name(fields.get("name", "")),
        groups=check_groups(groups),
    )

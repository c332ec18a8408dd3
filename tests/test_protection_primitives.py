"""The primitives that protect classified columns: the key store, pseudonyms, encryption at
rest, and decrypting in a locked DuckDB session. Real files, processes, Arrow and DuckDB."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import importlib.util
import os
import secrets
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanta.build.sql_guard import check_sql
from quanta.engines.duckdb import DuckDBEngine
from quanta.engines.duckdb_sandbox import folder, lock
from quanta.errors import ConfigError, PlatformError, UserError
from quanta.governance import keys as keys_module
from quanta.governance.crypto import (
    ENCRYPTION_KEY_SIZE,
    PSEUDONYM_KEY_SIZE,
    canonical,
    decrypt,
    encrypt,
    encryption_key,
    is_platform_column,
    pseudonym_column,
    pseudonym_key,
    pseudonyms,
)
from quanta.governance.keys import LocalKeyStore
from quanta.sql_text import literal, quote

HMAC_KEY = bytes(range(32))
AES_KEY = bytes(range(64))
CONTEXT = "crm.customers/customers/email"

needs_numpy = pytest.mark.skipif(
    importlib.util.find_spec("numpy") is None,
    reason="DuckDB 1.5.5 registers Python functions only with numpy: pip install numpy "
    "(Quanta's dependencies must list it before encrypted columns are read)",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the key store ----------------------------------------------------------------------


def test_keys_are_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    folder_path = tmp_path / "home" / "keys"
    store = LocalKeyStore(folder_path)
    previous = os.umask(0)  # the modes are the ones given at creation, not the umask's
    try:
        first = store.key("pseudonyms")
        wide = store.key("column-encryption", 64)
    finally:
        os.umask(previous)
    assert len(first) == 32
    assert len(wide) == 64
    assert mode(folder_path) == 0o700
    assert mode(folder_path / "pseudonyms") == 0o600
    assert mode(folder_path / "column-encryption") == 0o600
    assert (folder_path / "pseudonyms").read_bytes() == first
    assert sorted(p.name for p in folder_path.iterdir()) == ["column-encryption", "pseudonyms"]
    assert LocalKeyStore(folder_path).key("pseudonyms") == first  # another process, later
    assert store.key("other") != first
    assert first.hex() not in repr(store)


def test_a_key_of_another_size_is_refused_not_replaced(tmp_path: Path) -> None:
    store = LocalKeyStore(tmp_path / "keys")
    key = store.key("pseudonyms")
    with pytest.raises(ConfigError, match=r"holds 32 bytes where a key of 64 is expected"):
        store.key("pseudonyms", 64)
    assert store.key("pseudonyms") == key


@pytest.mark.parametrize(
    "name", ["", "A", "../x", "a/b", ".hidden", "-x", "x.key", "x\n", "é", "a" * 65]
)
def test_key_names_come_from_an_allow_list(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is not a key name"):
        LocalKeyStore(tmp_path / "keys").key(name)
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


def test_a_folder_open_to_others_is_refused_with_the_chmod_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    keys = tmp_path / "home" / "keys"
    keys.mkdir(parents=True)
    keys.chmod(0o755)
    with pytest.raises(ConfigError) as refused:
        LocalKeyStore(keys).key("pseudonyms")
    assert str(refused.value) == (
        "the key folder home/keys is open to other users (mode 0755): run chmod 700 home/keys"
    )
    assert not any(keys.iterdir())  # no key was written into it
    keys.chmod(0o700)
    assert len(LocalKeyStore(keys).key("pseudonyms")) == 32


def test_a_key_file_open_to_others_is_refused_with_the_chmod_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalKeyStore(Path("home keys"))  # a path that the command must quote
    key = store.key("pseudonyms")
    (tmp_path / "home keys" / "pseudonyms").chmod(0o644)
    with pytest.raises(ConfigError) as refused:
        store.key("pseudonyms")
    message = str(refused.value)
    assert message == (
        "the key file home keys/pseudonyms is open to other users (mode 0644): "
        "run chmod 600 'home keys/pseudonyms'"
    )
    assert key.hex() not in message
    (tmp_path / "home keys" / "pseudonyms").chmod(0o640)  # group-readable is open too
    with pytest.raises(ConfigError, match=r"\(mode 0640\): run chmod 600"):
        store.key("pseudonyms")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_keys_of_another_user_are_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    store = LocalKeyStore(keys)
    store.key("pseudonyms")
    os.chown(keys / "pseudonyms", 65534, 65534)
    with pytest.raises(ConfigError, match=r"key file .* belongs to another user \(uid 65534\)"):
        store.key("pseudonyms")
    os.chown(keys, 65534, 65534)
    with pytest.raises(ConfigError, match=r"key folder .* belongs to another user"):
        store.key("pseudonyms")


def test_a_key_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    store = LocalKeyStore(keys)
    elsewhere = tmp_path / "planted"
    elsewhere.write_bytes(secrets.token_bytes(32))
    elsewhere.chmod(0o600)
    keys.mkdir(mode=0o700)
    (keys / "pseudonyms").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        store.key("pseudonyms")


def test_the_loser_of_a_race_uses_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the key between this one finding none and creating it."""
    keys = tmp_path / "keys"
    store = LocalKeyStore(keys)
    found = LocalKeyStore._read
    winner: list[bytes] = []

    def read_racing(self: LocalKeyStore, descriptor: int, name: str, size: int) -> bytes | None:
        key = found(self, descriptor, name, size)
        if key is None and self is store and not winner:
            winner.append(LocalKeyStore(keys).key(name, size))  # the other process
        return key

    monkeypatch.setattr(LocalKeyStore, "_read", read_racing)
    assert store.key("pseudonyms") == winner[0]
    assert [p.name for p in keys.iterdir()] == ["pseudonyms"]  # no temporary file left


RACER = """
import hashlib, importlib.util, sys, time
from pathlib import Path
# The module alone: the governance package's own imports take longer than the race.
spec = importlib.util.spec_from_file_location("keys", sys.argv[3])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
LocalKeyStore = module.LocalKeyStore
keys, go = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():  # all of them start asking at the same moment
    time.sleep(0.0005)
print(hashlib.sha256(LocalKeyStore(keys).key("pseudonyms")).hexdigest())
"""


def test_processes_creating_one_key_at_once_end_with_one_key(tmp_path: Path) -> None:
    racers = 4
    for round_ in range(3):
        keys, go = tmp_path / f"keys{round_}", tmp_path / f"go{round_}"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(keys), str(go), keys_module.__file__],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(racers)
        ]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        go.touch()
        seen = {process.communicate(timeout=60)[0].strip() for process in processes}
        assert all(process.returncode == 0 for process in processes)
        assert seen == {hashlib.sha256((keys / "pseudonyms").read_bytes()).hexdigest()}
        assert [p.name for p in keys.iterdir()] == ["pseudonyms"]  # no temporary file left


def test_the_crypto_keys_have_their_sizes(tmp_path: Path) -> None:
    store = LocalKeyStore(tmp_path / "keys")
    assert len(pseudonym_key(store)) == PSEUDONYM_KEY_SIZE == 32
    assert len(encryption_key(store)) == ENCRYPTION_KEY_SIZE == 64
    assert pseudonym_key(store) == store.key("pseudonyms")


# -- names ------------------------------------------------------------------------------


def test_platform_column_names() -> None:
    assert pseudonym_column("email") == "__quanta_pseudonym__email"
    assert is_platform_column(pseudonym_column("email"))
    assert is_platform_column("__QUANTA_x")  # DuckDB compares names so
    assert not is_platform_column("email")
    assert not is_platform_column("_quanta_email")
    with pytest.raises(UserError, match="Quanta keeps for its own columns"):
        pseudonym_column("__quanta_pseudonym__email")


# -- pseudonyms -------------------------------------------------------------------------


def expected(text: str, key: bytes = HMAC_KEY) -> uuid.UUID:
    return uuid.UUID(bytes=hmac.new(key, text.encode(), "sha256").digest()[:16])


def test_a_pseudonym_is_the_truncated_hmac_of_the_canonical_text() -> None:
    values = pa.array(["alice@example.com", None, "bob@example.com"])
    got = pseudonyms(values, HMAC_KEY)
    assert got.type == pa.uuid()
    assert got.to_pylist() == [expected("alice@example.com"), None, expected("bob@example.com")]
    assert pseudonyms(values, HMAC_KEY).equals(got)  # stable
    long_key = secrets.token_bytes(100)  # longer than SHA-256's block: hashed first
    assert pseudonyms(pa.array(["x"]), long_key).to_pylist() == [expected("x", long_key)]


def test_the_same_value_has_one_pseudonym_whatever_the_column_type() -> None:
    forty_two = {
        pseudonyms(array, HMAC_KEY)[0].as_py()
        for array in (
            pa.array([42], pa.int64()),
            pa.array([42], pa.int8()),
            pa.array([42], pa.uint32()),
            pa.array(["42"]),
            pa.array(["42"], pa.large_string()),
            pa.array([b"42"], pa.binary()),
            pa.array([42.0]),
            pa.array([decimal.Decimal("42.00")], pa.decimal128(10, 2)),
            pa.array(["42"]).dictionary_encode(),
        )
    }
    assert forty_two == {expected("42")}
    day = dt.date(2024, 5, 1)
    assert pseudonyms(pa.array([day]), HMAC_KEY).equals(
        pseudonyms(pa.array(["2024-05-01"]), HMAC_KEY)
    )
    assert pseudonyms(pa.array([True]), HMAC_KEY).to_pylist() == [expected("true")]
    utc = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    paris = pa.array([utc], pa.timestamp("us", "Europe/Paris"))  # one instant, two zones
    assert pseudonyms(paris, HMAC_KEY).to_pylist() == [expected("2024-05-01T12:00:00+00:00")]


CANONICAL_CASES = [
    pa.array([0, -1, 2**63 - 1, None], pa.int64()),
    pa.array([2**64 - 1], pa.uint64()),
    pa.array([True, False, None]),
    pa.array([dt.date(1, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]),
    pa.array([dt.date(2024, 2, 29)], pa.date64()),
    pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2), dt.datetime(1, 1, 1)]),
    pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6000)], pa.timestamp("ms")),
    pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("s")),
    pa.array([1_700_000_000_000_000_000], pa.timestamp("ns")),
    pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
    pa.array([dt.time(3, 4, 5, 6), dt.time(0, 0), None], pa.time64("us")),
    pa.array([dt.time(3, 4, 5)], pa.time32("s")),
    pa.array([0.1, -0.0, 1e300, 5e-324, float("nan"), float("inf"), float("-inf")]),
    pa.array([0.1], pa.float32()),
    pa.array([decimal.Decimal("-0.00"), decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
    pa.array([decimal.Decimal("12345678901234567890123456789012345678")], pa.decimal128(38, 0)),
]


@pytest.mark.parametrize("values", CANONICAL_CASES, ids=lambda a: str(a.type))
def test_arrow_computes_the_canonical_text_as_python_does(values: pa.Array) -> None:
    """Where Arrow writes a type's text itself (fast), it writes canonical()'s."""
    texts = [canonical(value) for value in values.to_pylist()]
    as_text = pa.array([None if t is None else t.decode() for t in texts], pa.string())
    assert pseudonyms(values, HMAC_KEY).equals(pseudonyms(as_text, HMAC_KEY))


def test_canonical_texts() -> None:
    assert canonical(None) is None
    assert canonical(42) == canonical("42") == canonical(42.0) == b"42"
    assert canonical(decimal.Decimal("1E+2")) == b"100"
    assert canonical(decimal.Decimal("-0.000")) == canonical(-0.0) == b"0"
    assert canonical(1e20) == b"100000000000000000000"
    assert canonical(True) == b"true"
    assert canonical(dt.datetime(2024, 5, 1, 12)) == b"2024-05-01T12:00:00"
    assert canonical("ü") == "ü".encode()
    with pytest.raises(TypeError):
        canonical([1])


def test_different_keys_give_different_pseudonyms() -> None:
    values = pa.array(["alice@example.com", "42"])
    other = pseudonyms(values, secrets.token_bytes(32)).to_pylist()
    assert set(other).isdisjoint(pseudonyms(values, HMAC_KEY).to_pylist())
    with pytest.raises(ValueError, match="at least 32 bytes"):
        pseudonyms(values, b"short")


def test_repeated_values_and_chunks_give_the_same_pseudonyms() -> None:
    values = [None if i % 97 == 0 else f"customer-{i % 300}" for i in range(20_000)]
    one = pseudonyms(pa.array(values), HMAC_KEY)  # repeats: each distinct value hashed once
    assert one.to_pylist() == [None if v is None else expected(v) for v in values]
    chunked = pa.chunked_array([pa.array(values[:7]), pa.array(values[7:])])
    assert pseudonyms(chunked, HMAC_KEY).equals(one)
    assert pseudonyms(pa.chunked_array([], pa.string()), HMAC_KEY).to_pylist() == []


def test_nested_columns_cannot_be_protected() -> None:
    with pytest.raises(UserError, match="a column of type list<item: int64> cannot be"):
        pseudonyms(pa.array([[1]]), HMAC_KEY)
    with pytest.raises(UserError, match="nanoseconds"):
        pseudonyms(pa.array([1], pa.timestamp("ns")), HMAC_KEY)


def test_joins_on_pseudonyms_match_in_duckdb(tmp_path: Path) -> None:
    """Two products pseudonymize a key of different types: the pseudonyms still join."""
    customers = pa.table(
        {"id": pa.array([1, 2, 3, None], pa.int64()), "tier": ["a", "b", "c", "d"]}
    )
    orders = pa.table({"customer": pa.array(["2", "3", "3", "9", None]), "amount": [1, 2, 3, 4, 5]})
    for name, table, key in (("customers", customers, "id"), ("orders", orders, "customer")):
        stored = table.append_column(pseudonym_column(key), pseudonyms(table[key], HMAC_KEY))
        pq.write_table(stored, tmp_path / f"{name}.parquet")
    connection = duckdb.connect()
    clear = connection.sql(
        f"SELECT tier, amount FROM {quote(str(tmp_path / 'customers.parquet'))} c "
        f"JOIN {quote(str(tmp_path / 'orders.parquet'))} o ON CAST(c.id AS VARCHAR) = o.customer "
        "ORDER BY amount"
    ).fetchall()
    hidden = connection.sql(
        f"SELECT tier, amount FROM {quote(str(tmp_path / 'customers.parquet'))} c "
        f"JOIN {quote(str(tmp_path / 'orders.parquet'))} o "
        '  ON c."__quanta_pseudonym__id" = o."__quanta_pseudonym__customer" ORDER BY amount'
    ).fetchall()
    assert hidden == clear == [("b", 1), ("c", 2), ("c", 3)]  # NULLs join nothing


# -- encryption -------------------------------------------------------------------------

ROUND_TRIPS = {
    "strings": pa.array(["alice@example.com", None, "Zoë", ""]),
    "dates": pa.array([dt.date(2024, 5, 1), None, dt.date(1, 1, 1)]),
    "timestamps": pa.array([dt.datetime(2024, 5, 1, 12, 30, 0, 17), dt.datetime(1970, 1, 1)]),
    "timestamps in UTC": pa.array(
        [dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), None], pa.timestamp("us", "UTC")
    ),
    "ints": pa.array([42, None, -(2**63), 2**63 - 1], pa.int64()),
    "small ints": pa.array([7, None], pa.int32()),
    "decimals": pa.array(
        [decimal.Decimal("1.50"), decimal.Decimal("-12345678.91"), None], pa.decimal128(10, 2)
    ),
    "wide decimals": pa.array(
        [decimal.Decimal("1234567890123456789012345678.1234567890")], pa.decimal128(38, 10)
    ),
    "booleans": pa.array([True, False, None]),
    "doubles": pa.array([0.1, 1e300, 5e-324, float("inf")]),
    "floats": pa.array([0.1, None], pa.float32()),
    "times": pa.array([dt.time(3, 4, 5, 6), dt.time(0, 0)], pa.time64("us")),
    "bytes": pa.array([b"\x00\xff", None], pa.binary()),
}


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_encryption_round_trips(name: str) -> None:
    values = ROUND_TRIPS[name]
    sealed = encrypt(values, AES_KEY, context=CONTEXT)
    assert sealed.type == pa.binary()
    assert sealed.null_count == values.null_count
    assert decrypt(sealed, AES_KEY, values.type, context=CONTEXT).equals(values)
    assert encrypt(values, AES_KEY, context=CONTEXT).equals(sealed)  # deterministic


def test_ciphertexts_never_hold_the_plaintext(tmp_path: Path) -> None:
    emails = [f"person{i}@example.com" for i in range(1000)]
    sealed = encrypt(pa.array(emails), AES_KEY, context=CONTEXT)
    for email, ciphertext in zip(emails, sealed.to_pylist(), strict=True):
        assert email.encode() not in ciphertext
        assert b"example" not in ciphertext
        assert len(ciphertext) == 16 + len(email)
    # Nor does the file that stores them, statistics included.
    pq.write_table(pa.table({"email": sealed}), tmp_path / "sealed.parquet")
    data = (tmp_path / "sealed.parquet").read_bytes()
    assert b"example.com" not in data
    assert b"person" not in data


def test_equal_values_encrypt_equally_only_within_one_context() -> None:
    values = pa.array(["alice", "alice", "bob"])
    sealed = encrypt(values, AES_KEY, context=CONTEXT).to_pylist()
    assert sealed[0] == sealed[1] != sealed[2]
    elsewhere = encrypt(values, AES_KEY, context="crm.leads/leads/email").to_pylist()
    assert set(elsewhere).isdisjoint(sealed)


def test_a_ciphertext_decrypts_only_with_its_key_and_context() -> None:
    sealed = encrypt(pa.array(["alice@example.com"]), AES_KEY, context=CONTEXT)
    wrong = [
        (secrets.token_bytes(64), CONTEXT),
        (AES_KEY, "crm.leads/leads/email"),  # copied into another product's column
    ]
    for key, context in wrong:
        with pytest.raises(PlatformError, match="could not be decrypted") as failed:
            decrypt(sealed, key, pa.string(), context=context)
        assert "alice" not in str(failed.value)
    altered = bytearray(sealed[0].as_py())
    altered[-1] ^= 1
    with pytest.raises(PlatformError, match="or it was altered"):
        decrypt(pa.array([bytes(altered)]), AES_KEY, pa.string(), context=CONTEXT)
    with pytest.raises(ValueError, match="64 bytes"):
        encrypt(pa.array(["x"]), HMAC_KEY, context=CONTEXT)
    with pytest.raises(ValueError, match="context"):
        encrypt(pa.array(["x"]), AES_KEY, context="")


# -- decrypting in DuckDB ---------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    return DuckDBEngine(tmp_path / "extensions")


def _stored(tmp_path: Path) -> tuple[Path, dict[str, pa.Array]]:
    """A data file as a publish stores a product's pii-sensitive columns."""
    clear = {
        "email": ROUND_TRIPS["strings"],
        "born": pa.array([dt.date(1990, 1, 2), None, dt.date(1, 1, 1), dt.date(2000, 2, 29)]),
        "seen": pa.array(
            [dt.datetime(2024, 5, 1, 12, 30, 0, 17), None, None, dt.datetime(1970, 1, 1)]
        ),
        "score": pa.array(
            [decimal.Decimal("1.50"), None, decimal.Decimal("-2.25"), None], pa.decimal128(10, 2)
        ),
        "points": pa.array([42, None, -1, 2**63 - 1]),
    }
    columns = {
        name: encrypt(values, AES_KEY, context=f"crm.c/c/{name}") for name, values in clear.items()
    }
    columns[pseudonym_column("email")] = pseudonyms(clear["email"], HMAC_KEY)
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table(columns), data / "part-0.parquet")
    return data / "part-0.parquet", clear


@needs_numpy
def test_the_decrypt_function_works_in_a_locked_session(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    from quanta.engines.duckdb_protection import decrypt_sql, register_decrypt

    file, clear = _stored(tmp_path)
    connection = engine.connect(iceberg=False)
    register_decrypt(connection, AES_KEY)  # before the lock, as a session would
    lock(connection, files=set(), folders={folder(str(file.parent))})
    with pytest.raises(duckdb.Error):
        connection.execute("SET enable_external_access = true")
    types = {
        "email": "VARCHAR",
        "born": "DATE",
        "seen": "TIMESTAMP",
        "score": "DECIMAL(10,2)",
        "points": "BIGINT",
    }
    shown = ", ".join(
        f"{decrypt_sql(quote(name), kind, f'crm.c/c/{name}')} AS {quote(name)}"
        for name, kind in types.items()
    )
    connection.execute(
        f"CREATE VIEW customers AS SELECT {shown} FROM read_parquet({literal(str(file))})"
    )
    table = connection.sql("SELECT * FROM customers").to_arrow_table()
    for name, values in clear.items():
        assert table[name].combine_chunks().equals(values), name
    # Grouping and filtering work on the decrypted values.
    assert connection.sql(
        "SELECT count(*) FROM customers WHERE born < DATE '1995-01-01'"
    ).fetchall() == [(2,)]
    connection.close()


@needs_numpy
def test_the_decrypt_function_runs_over_many_batches(engine: DuckDBEngine) -> None:
    from quanta.engines.duckdb_protection import decrypt_sql, register_decrypt

    values = pa.array(
        [None if i % 11 == 0 else f"user{i % 5000}@example.com" for i in range(50_000)]
    )
    connection = engine.connect(iceberg=False)
    register_decrypt(connection, AES_KEY)
    lock(connection, files=set(), folders=set())
    sealed = pa.table({"email": encrypt(values, AES_KEY, context=CONTEXT)})
    connection.register("sealed", sealed)
    got = connection.sql(
        f"SELECT {decrypt_sql(quote('email'), 'VARCHAR', CONTEXT)} FROM sealed"
    ).to_arrow_table()
    assert got.column(0).combine_chunks().equals(values)


@needs_numpy
def test_user_sql_sees_neither_the_key_nor_the_body(engine: DuckDBEngine) -> None:
    from quanta.engines.duckdb_protection import register_decrypt

    connection = engine.connect(iceberg=False)
    register_decrypt(connection, AES_KEY)
    lock(connection, files=set(), folders=set())
    listed = connection.sql(
        "SELECT function_name, parameter_types, return_type, macro_definition, description "
        "FROM duckdb_functions() WHERE function_name LIKE 'quanta%' ORDER BY 1"
    ).fetchall()
    assert listed == [
        ("quanta_decrypt", ["BLOB", "VARCHAR"], "VARCHAR", None, None),
        ("quanta_decrypt_blob", ["BLOB", "VARCHAR"], "BLOB", None, None),
    ]
    everything = str(connection.sql("SELECT * FROM duckdb_functions()").fetchall())
    everything += str(connection.sql("SELECT * FROM duckdb_settings()").fetchall())
    assert AES_KEY.hex() not in everything
    assert repr(AES_KEY)[2:-1] not in everything
    # And the SQL guard refuses the functions, and listing them, in a user's query.
    for sql in ("SELECT quanta_decrypt(email, 'x') FROM t", "SELECT * FROM duckdb_functions()"):
        assert check_sql(sql, {("t",)}), sql


@needs_numpy
def test_a_ciphertext_of_another_column_fails_without_its_value(engine: DuckDBEngine) -> None:
    from quanta.engines.duckdb_protection import decrypt_sql, register_decrypt

    connection = engine.connect(iceberg=False)
    register_decrypt(connection, AES_KEY)
    sealed = encrypt(pa.array(["alice@example.com"]), AES_KEY, context="crm.c/c/other")
    connection.register("t", pa.table({"email": sealed}))
    with pytest.raises(duckdb.Error, match="could not be decrypted") as failed:
        connection.sql(
            f"SELECT {decrypt_sql(quote('email'), 'VARCHAR', CONTEXT)} FROM t"
        ).fetchall()
    assert "alice" not in str(failed.value)


def test_decrypt_sql_quotes_and_checks_what_it_writes() -> None:
    from quanta.engines.duckdb_protection import decrypt_sql

    assert decrypt_sql('"e"', "varchar", "a/b/c") == "quanta_decrypt(\"e\", 'a/b/c')"
    assert decrypt_sql('"d"', "DATE", "it's") == "CAST(quanta_decrypt(\"d\", 'it''s') AS DATE)"
    assert (
        decrypt_sql('"n"', "numeric(10, 2)", "c")
        == "CAST(quanta_decrypt(\"n\", 'c') AS DECIMAL(10,2))"
    )
    assert decrypt_sql('"t"', "timestamptz", "c").endswith("AS TIMESTAMP WITH TIME ZONE)")
    assert decrypt_sql('"b"', "BLOB", "c") == "quanta_decrypt_blob(\"b\", 'c')"
    with pytest.raises(ValueError, match="unknown type"):
        decrypt_sql('"d"', "DATE) FROM x; --", "c")
    for column in ("d", '"d" || secret', '"d"\n', '""'):
        with pytest.raises(ValueError, match="quoted identifier"):
            decrypt_sql(column, "DATE", "c")


def test_without_numpy_registering_says_what_to_install() -> None:
    script = (
        "import sys; sys.modules['numpy'] = None\n"
        "import duckdb\n"
        "from quanta.engines.duckdb_protection import register_decrypt\n"
        "register_decrypt(duckdb.connect(), bytes(64))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "ConfigError: reading encrypted columns needs numpy" in done.stderr
    assert "pip install numpy" in done.stderr

"""Decrypting encrypted columns in a DuckDB session, for the readers who may see them in clear.

`register_decrypt` gives a connection two scalar functions over Arrow batches (vectorized:
one Python call per 2,048 rows), ``quanta_decrypt(ciphertext BLOB, context VARCHAR)``
returning a value's canonical text and ``quanta_decrypt_blob`` returning its bytes; the
read path writes their calls with `decrypt_sql`, never a user. The key lives in the
functions' closure only: it is in no SQL text, no setting and no catalog table, and
``duckdb_functions()`` shows the functions' names and parameter types, not their bodies.

The SQL guard refuses both functions in user SQL (they are not in
`quanta.build.sql_functions`): a user reads a decrypted column only where the read path
wrote the call into the view of a port.

DuckDB 1.5.5 needs numpy to register any Python function (duckdb/duckdb#17052; its Arrow
functions use numpy even after the fix), so the platform does too.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import BLOB, VARCHAR

from quanta.errors import ConfigError, PlatformError
from quanta.governance.crypto import ENCRYPTION_KEY_SIZE, decrypt
from quanta.governance.protection import DECRYPT, DECRYPT_BLOB, decrypt_sql

__all__ = ["DECRYPT", "DECRYPT_BLOB", "decrypt_sql", "register_decrypt"]


def register_decrypt(connection: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Give ``connection`` the functions that decrypt with ``key`` (`ENCRYPTION_KEY_SIZE`
    bytes).

    Register them before any view that calls them is created. Python functions are not
    configuration: they can be registered, and they run, after the session is locked
    (``lock_configuration``, ``enable_external_access = false``).
    """
    if len(key) != ENCRYPTION_KEY_SIZE:
        raise ValueError(f"an encryption key has {ENCRYPTION_KEY_SIZE} bytes (AES-256-SIV)")

    def as_text(ciphertexts: pa.ChunkedArray, contexts: pa.ChunkedArray) -> pa.Array:
        return _decrypted(ciphertexts, contexts, key, pa.string())

    def as_bytes(ciphertexts: pa.ChunkedArray, contexts: pa.ChunkedArray) -> pa.Array:
        return _decrypted(ciphertexts, contexts, key, pa.binary())

    for name, function, returned in ((DECRYPT, as_text, VARCHAR), (DECRYPT_BLOB, as_bytes, BLOB)):
        try:
            connection.create_function(
                name,
                function,
                [BLOB, VARCHAR],
                returned,
                type=PythonUDFType.ARROW,
                null_handling=FunctionNullHandling.SPECIAL,  # NULL reaches it; it stays NULL
                side_effects=False,  # deterministic: DuckDB may compute a value once
            )
        except duckdb.InvalidInputException as error:
            if "numpy" in str(error):
                raise ConfigError(
                    "reading encrypted columns needs numpy (DuckDB runs Python functions "
                    "through it): pip install numpy"
                ) from None
            raise


def _decrypted(
    ciphertexts: pa.ChunkedArray, contexts: pa.ChunkedArray, key: bytes, kind: pa.DataType
) -> pa.Array:
    if len(ciphertexts) == 0:
        return pa.array([], kind)
    distinct = pc.unique(contexts)
    if len(distinct) != 1 or not distinct[0].is_valid:
        # decrypt_sql writes one literal context per call: anything else is not ours.
        raise PlatformError(f"{DECRYPT} takes one column's context, as a constant")
    return decrypt(ciphertexts, key, kind, context=distinct[0].as_py())

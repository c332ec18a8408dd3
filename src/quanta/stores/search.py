"""Full-text search of the catalog, the one part of it that differs between dialects.

SQLite has FTS5 (migration 0001 makes ``product_search`` a virtual table): words match as
prefixes, hits are ranked and show a snippet. Elsewhere ``product_search`` is a plain table
and every word must appear somewhere in a product's text, hits in id order.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from quanta.model.catalog import ProductRecord, SearchHit, Version


def index_for_search(connection: Connection, record: ProductRecord, version: Version) -> None:
    """Replace the product's searchable text with that of ``version``, in the caller's
    transaction: search never finds words of a publish that failed."""
    columns = " ".join(
        " ".join(filter(None, (column.name, column.description, column.classification)))
        for port in version.ports
        for column in port.columns
    )
    connection.execute(text("DELETE FROM product_search WHERE product_id = :id"), {"id": record.id})
    connection.execute(
        text(
            "INSERT INTO product_search"
            " (product_id, name, domain, owner, description, columns, tags)"
            " VALUES (:id, :name, :domain, :owner, :description, :columns, :tags)"
        ),
        {
            "id": record.id,
            "name": f"{record.id} {record.name} {record.title or ''}",
            "domain": record.domain,
            "owner": f"{record.owner} {record.contact}",
            "description": record.description or "",
            "columns": columns,
            "tags": " ".join(record.tags),
        },
    )


def search(connection: Connection, text_query: str, limit: int) -> list[SearchHit]:
    words = re.findall(r"\w+", text_query.lower())
    if not words:
        return []
    if connection.dialect.name == "sqlite":
        match = " ".join(f'"{word}"*' for word in words)
        rows = connection.execute(
            text(
                "SELECT s.product_id, p.domain, p.owner, p.description, "
                "snippet(product_search, -1, '[', ']', '…', 8) "
                "FROM product_search s JOIN products p ON p.id = s.product_id "
                "WHERE product_search MATCH :match ORDER BY rank LIMIT :limit"
            ),
            {"match": match, "limit": limit},
        )
    else:
        clauses = " AND ".join(
            f"lower(s.name || ' ' || s.domain || ' ' || s.owner || ' ' || "
            f"coalesce(s.description, '') || ' ' || s.columns || ' ' || s.tags) "
            f"LIKE :w{index}"
            for index in range(len(words))
        )
        rows = connection.execute(
            text(
                "SELECT s.product_id, p.domain, p.owner, p.description, '' "
                "FROM product_search s JOIN products p ON p.id = s.product_id "
                f"WHERE {clauses} ORDER BY s.product_id LIMIT :limit"
            ),
            # "_" is a word character and LIKE's any-character: match it as itself.
            {**{f"w{i}": f"%{_literal(w)}%" for i, w in enumerate(words)}, "limit": limit},
        )
    return [
        SearchHit(product=r[0], domain=r[1], owner=r[2], description=r[3], matched=r[4])
        for r in rows
    ]


def _literal(word: str) -> str:
    return word.replace("_", "\\_")  # LIKE escapes with a backslash; \w has none, nor %

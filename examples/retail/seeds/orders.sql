-- hash(i * 64 + k) draws the k-th independent pseudo-random number of row i, the same every run.
-- Order events from the checkout, one row per order.
WITH o AS (
    SELECT i, CAST(100000 * getvariable('scale') AS BIGINT) + 1 AS customers
    FROM range(1, CAST(1000000 * getvariable('scale') AS BIGINT) + 1) AS t(i)
)
SELECT
    printf('o-%09d', i) AS order_id,
    printf('c-%07d', 1 + CAST(hash(i * 64 + 14) % customers AS BIGINT)) AS customer_id,
    TIMESTAMPTZ '2026-08-01 00:00:00+00' + to_seconds(CAST(CAST(hash(i * 64 + 15) % 7776000 AS BIGINT) AS BIGINT)) AS ordered_at,
    (['placed', 'shipped', 'delivered', 'delivered', 'delivered', 'returned', 'cancelled'])[1 + CAST(hash(i * 64 + 16) % 7 AS BIGINT)] AS status,
    (['EUR', 'EUR', 'EUR', 'GBP'])[1 + CAST(hash(i * 64 + 17) % 4 AS BIGINT)] AS currency,
    CAST(1 + CAST(hash(i * 64 + 18) % 5 AS BIGINT) AS INTEGER) AS items,
    CAST((5 + CAST(hash(i * 64 + 19) % 29500 AS BIGINT)) / 100.0 AS DECIMAL(12, 2)) AS amount
FROM o

-- Clickstream sessions keyed by a UUID; about half are by a logged-in web user.
WITH s AS (
    SELECT i, CAST(100000 * getvariable('scale') AS BIGINT) + 1 AS customers
    FROM range(1, CAST(1000000 * getvariable('scale') AS BIGINT) + 1) AS t(i)
)
SELECT
    CAST(md5(CAST(i AS VARCHAR)) AS UUID) AS session_id,
    CASE WHEN CAST(hash(i * 64 + 7) % 2 AS BIGINT) = 0 THEN printf('u-%07d', 1 + CAST(hash(i * 64 + 8) % customers AS BIGINT)) END AS user_id,
    TIMESTAMPTZ '2026-08-01 00:00:00+00' + to_seconds(CAST(CAST(hash(i * 64 + 9) % 7776000 AS BIGINT) AS BIGINT)) AS started_at,
    (['organic', 'paid_search', 'social', 'email', 'direct', 'affiliate'])[1 + CAST(hash(i * 64 + 10) % 6 AS BIGINT)] AS channel,
    (['/', '/women', '/men', '/sale', '/new-in', '/shoes'])[1 + CAST(hash(i * 64 + 11) % 6 AS BIGINT)] AS landing_page,
    (['mobile', 'desktop', 'tablet'])[1 + CAST(hash(i * 64 + 12) % 3 AS BIGINT)] AS device,
    CAST(1 + CAST(hash(i * 64 + 13) % 30 AS BIGINT) AS INTEGER) AS pageviews
FROM s

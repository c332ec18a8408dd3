-- Web accounts linked to customers: four in five customers have one.
SELECT
    printf('c-%07d', i) AS customer_id,
    printf('u-%07d', i) AS user_id,
    TIMESTAMP '2024-01-01' + to_seconds(CAST(CAST(hash(i * 64 + 6) % 60000000 AS BIGINT) AS BIGINT)) AS linked_at
FROM range(1, CAST(100000 * getvariable('scale') AS BIGINT) + 2) AS t(i)
WHERE i % 5 <> 0

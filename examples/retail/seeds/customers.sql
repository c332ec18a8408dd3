-- Customers who registered with the shop, with their personal data.
SELECT
    printf('c-%07d', i) AS customer_id,
    (['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eva', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas'])[1 + CAST(hash(i * 64 + 1) % 10 AS BIGINT)]
        || ' '
        || (['Martin', 'Silva', 'Novak', 'Okafor', 'Rossi', 'Schmidt', 'Tanaka', 'Weber'])[1 + CAST(hash(i * 64 + 2) % 8 AS BIGINT)]
        AS full_name,
    printf('customer%d@mail.example', i) AS email,
    DATE '1950-01-01' + CAST(CAST(hash(i * 64 + 3) % 18000 AS BIGINT) AS INTEGER) AS birth_date,
    (['DE', 'FR', 'NL', 'ES', 'IT', 'GB', 'AT', 'BE'])[1 + CAST(hash(i * 64 + 4) % 8 AS BIGINT)] AS country,
    TIMESTAMP '2024-01-01' + to_seconds(CAST(CAST(hash(i * 64 + 5) % 60000000 AS BIGINT) AS BIGINT)) AS registered_at
FROM range(1, CAST(100000 * getvariable('scale') AS BIGINT) + 2) AS t(i)

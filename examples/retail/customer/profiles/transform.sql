SELECT
    customer_id,
    full_name,
    lower(email) AS email,
    CAST(birth_date AS DATE) AS birth_date,
    country,
    CAST(registered_at AS TIMESTAMP) AS registered_at
FROM raw_customers

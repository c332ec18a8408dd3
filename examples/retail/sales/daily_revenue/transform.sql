SELECT
    CAST(ordered_at AS DATE) AS day,
    currency,
    count(*) AS orders,
    count(DISTINCT customer_id) AS customers,
    CAST(sum(amount) AS DECIMAL(18, 2)) AS revenue
FROM checkout.orders
WHERE status <> 'cancelled'
GROUP BY ALL

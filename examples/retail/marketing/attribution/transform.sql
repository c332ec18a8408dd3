-- Last-touch attribution: each order goes to the customer's latest session before it.
-- Sessions carry a web user id, orders a customer id: the identity map joins the two.
WITH touches AS (
    SELECT m.customer_id, s.started_at, s.channel
    FROM web.sessions AS s
    JOIN customer.identity_map.sessions AS m USING (session_id)
)
SELECT
    CAST(o.ordered_at AS DATE) AS day,
    coalesce(t.channel, 'unattributed') AS channel,
    count(*) AS orders,
    CAST(sum(o.amount) AS DECIMAL(18, 2)) AS revenue
FROM checkout.orders AS o
ASOF LEFT JOIN touches AS t
    ON o.customer_id = t.customer_id AND o.ordered_at >= t.started_at
WHERE o.status <> 'cancelled'
GROUP BY ALL

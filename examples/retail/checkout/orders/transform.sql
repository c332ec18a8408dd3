-- One row per order; the event stream already holds one event per order.
SELECT
    order_id,
    customer_id,
    ordered_at,
    status,
    currency,
    items,
    amount
FROM raw_orders

-- Session ids are UUIDs; they are stored as text so that every engine can read them.
SELECT
    session_id,
    user_id,
    started_at,
    channel,
    landing_page,
    device,
    pageviews
FROM raw_sessions

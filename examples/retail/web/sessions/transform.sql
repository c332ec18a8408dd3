-- Session ids are UUIDs; Quanta stores them as text (VARCHAR) so that every engine reads them.
SELECT
    session_id,
    user_id,
    started_at,
    channel,
    landing_page,
    device,
    pageviews
FROM raw_sessions

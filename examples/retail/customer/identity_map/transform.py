"""Two output ports from one transformation: accounts, and the sessions they own."""


def build(inputs):
    accounts = inputs.sql(
        """
        SELECT customer_id, user_id, CAST(linked_at AS TIMESTAMP) AS linked_at
        FROM raw_accounts
        """
    )
    sessions = inputs.sql(
        """
        SELECT s.session_id, a.customer_id, a.user_id
        FROM sessions AS s
        JOIN raw_accounts AS a USING (user_id)
        """
    )
    return {"accounts": accounts, "sessions": sessions}

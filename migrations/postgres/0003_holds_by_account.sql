-- An account's holds, newest first: GET /api/v1/accounts/{id}/holds.
CREATE INDEX holds_by_account ON holds (account_id, created_at DESC, id DESC);

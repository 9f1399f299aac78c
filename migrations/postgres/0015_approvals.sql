-- Four eyes: staff actions held for another staff user's approval. The
-- request is the decoded input, replayed as it is on approval; status moves
-- from 'pending' only by compare-and-set, so exactly one decision wins.
CREATE TABLE approvals (
    id              TEXT COLLATE "C" PRIMARY KEY,
    action          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    requested_by    TEXT COLLATE "C" NOT NULL,
    requester_role  TEXT NOT NULL,
    request         TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    decided_by      TEXT COLLATE "C",
    decided_at      TIMESTAMPTZ,
    reason          TEXT,
    result          TEXT
);
CREATE INDEX approvals_by_status ON approvals (status, created_at DESC, id DESC);
CREATE INDEX approvals_by_created ON approvals (created_at DESC, id DESC);
CREATE INDEX approvals_due ON approvals (expires_at) WHERE status = 'pending';
-- A retry of the same staff request finds its approval instead of making another.
CREATE UNIQUE INDEX approvals_key ON approvals (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- payment-service: outgoing payments, their idempotency records, limits,
-- recurring schedules and what each rail received.

-- A payment and its whole history (a JSON array of {status, at, reason?}),
-- changed only by compare-and-set on status. 'accepting' and 'refused' are
-- internal: a payment being accepted, and one refused before it was held.
CREATE TABLE payments (
    id              TEXT COLLATE "C" PRIMARY KEY,
    owner_id        TEXT COLLATE "C" NOT NULL,
    from_account_id TEXT COLLATE "C" NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    beneficiary     TEXT NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('accepting', 'refused', 'scheduled', 'pending', 'submitted',
                        'settled', 'failed', 'returned', 'cancelled')),
    failure_reason  TEXT,
    history         TEXT NOT NULL,
    scheduled_for   TIMESTAMPTZ,
    schedule_id     TEXT COLLATE "C",
    occurrence      TEXT,
    hold_id         TEXT COLLATE "C",
    capture_tx_id   TEXT COLLATE "C",
    return_tx_id    TEXT COLLATE "C",
    limit_day       TEXT,
    release_due     BOOLEAN NOT NULL DEFAULT FALSE,
    rail            TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    submitted_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_by_owner ON payments (owner_id, created_at DESC, id DESC);
CREATE INDEX payments_by_created ON payments (created_at DESC, id DESC);
CREATE INDEX payments_by_status ON payments (status, created_at);
CREATE INDEX payments_due ON payments (scheduled_for) WHERE status = 'scheduled';
-- Holds still to void after a cancellation or failure (a crash in between).
CREATE INDEX payments_release ON payments (updated_at) WHERE release_due;
-- One payment per occurrence of a recurring schedule, whoever generates it.
CREATE UNIQUE INDEX payments_occurrence ON payments (schedule_id, occurrence) WHERE schedule_id IS NOT NULL;

-- The answer to each POST /api/v1/payments, per user and Idempotency-Key.
-- status 0: the request is still being decided.
CREATE TABLE payment_requests (
    owner_id     TEXT COLLATE "C" NOT NULL,
    idem_key     TEXT COLLATE "C" NOT NULL,
    request_hash TEXT NOT NULL,
    payment_id   TEXT COLLATE "C" NOT NULL,
    status       INTEGER NOT NULL,
    response     BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_id, idem_key)
);
CREATE INDEX payment_requests_payment ON payment_requests (payment_id);

-- Limits an operator set for an account; the configured defaults otherwise.
CREATE TABLE payment_limits (
    account_id  TEXT COLLATE "C" PRIMARY KEY,
    per_payment BIGINT NOT NULL CHECK (per_payment > 0),
    daily       BIGINT NOT NULL CHECK (daily > 0),
    updated_by  TEXT COLLATE "C" NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- What each account has committed to payments on a day (UTC), kept by a
-- conditional upsert so concurrent payments cannot pass the daily limit.
CREATE TABLE payment_daily_totals (
    account_id TEXT COLLATE "C" NOT NULL,
    day        TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (account_id, day)
);

-- Recurring payments: next_date is the nominal date of the next occurrence.
CREATE TABLE payment_schedules (
    id              TEXT COLLATE "C" PRIMARY KEY,
    owner_id        TEXT COLLATE "C" NOT NULL,
    from_account_id TEXT COLLATE "C" NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    beneficiary     TEXT NOT NULL,
    reference       TEXT NOT NULL,
    every           TEXT NOT NULL CHECK (every IN ('week', 'month')),
    day             INTEGER NOT NULL,
    until_date      TEXT,
    next_date       TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_schedules_next ON payment_schedules (next_date);

-- The simulated rail's record of what it received, by payment id.
CREATE TABLE payment_rail_sim (
    payment_id  TEXT COLLATE "C" PRIMARY KEY,
    amount      BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    settle_at   TIMESTAMPTZ NOT NULL,
    return_at   TIMESTAMPTZ,
    delivered   TEXT NOT NULL
);
CREATE INDEX payment_rail_sim_due ON payment_rail_sim (settle_at) WHERE delivered <> 'done';

-- The ACH rail: the NACHA files it made, each entry by payment id and trace
-- number, and the returns read back.
CREATE TABLE payment_ach_files (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    content    TEXT NOT NULL,
    written    BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE payment_ach_entries (
    payment_id   TEXT COLLATE "C" PRIMARY KEY,
    file_id      TEXT COLLATE "C" NOT NULL,
    trace_number TEXT NOT NULL UNIQUE,
    amount       BIGINT NOT NULL,
    sent_at      TIMESTAMPTZ NOT NULL,
    settled      BOOLEAN NOT NULL,
    return_code  TEXT,
    returned     BOOLEAN NOT NULL
);

-- The consumer that holds a delivery's claim (see the PostgreSQL migration).
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;

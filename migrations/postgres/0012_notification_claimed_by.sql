-- The consumer that holds a delivery's claim (claimed_until), so that only
-- it gives the claim up: a consumer whose claim ran out and was taken by
-- another must not release the other's. Added only: a release before this
-- one neither reads nor writes it and still runs against this schema.
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;

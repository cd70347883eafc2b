-- Submitters who asked to be told of status changes by DM as well (product §5: DMs only when
-- opted in; the mention in the item's thread is always made).
ALTER TABLE feedback_items ADD COLUMN notify_dm INTEGER NOT NULL DEFAULT 0;

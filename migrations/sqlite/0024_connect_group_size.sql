-- /connect join group_size: 2 (a pair, the default) or 3 (a small group).
ALTER TABLE connect_members ADD COLUMN group_size INTEGER NOT NULL DEFAULT 2;

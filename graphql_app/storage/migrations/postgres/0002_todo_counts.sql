-- Per-user counters: a total costs one row read, whatever the number of todos.
-- Every todo write changes them in its own transaction (storage/postgres.py).
-- ALTER TABLE locks users until the fill below commits, so no todo write
-- (its foreign key check needs the users row) slips in between.
ALTER TABLE users
    ADD COLUMN todo_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN completed_count bigint NOT NULL DEFAULT 0;

UPDATE users
SET todo_count = c.total, completed_count = c.completed
FROM (
    SELECT user_id, count(*) AS total, count(*) FILTER (WHERE is_completed) AS completed
    FROM todos GROUP BY user_id
) AS c
WHERE users.id = c.user_id;

-- Per-user counters: a total costs one row read, whatever the number of todos.
-- Every todo write changes them in its own transaction (storage/sqlite.py);
-- migrate holds the write lock until the fill below commits.
ALTER TABLE users ADD COLUMN todo_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN completed_count INTEGER NOT NULL DEFAULT 0;

UPDATE users
SET todo_count = (SELECT count(*) FROM todos WHERE todos.user_id = users.id),
    completed_count = (
        SELECT count(*) FROM todos WHERE todos.user_id = users.id AND is_completed = 1
    );

-- PostGraphile's side of the bench (see bench/README.md), applied to the
-- bench-only database after `python -m graphql_app migrate`. PostGraphile runs
-- each request as this role with the verified token's claims in the
-- jwt.claims.* settings; row-level security then keeps the caller to their own
-- todos, as graphql_app's services do. graphql_app itself connects as the
-- tables' owner, which row-level security does not apply to.
DO $$
BEGIN
  CREATE ROLE bench_todo_reader NOLOGIN;
EXCEPTION WHEN duplicate_object THEN
  NULL;
END
$$;
GRANT USAGE ON SCHEMA public TO bench_todo_reader;
GRANT SELECT ON todos TO bench_todo_reader;
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS todos_of_caller ON todos;
CREATE POLICY todos_of_caller ON todos FOR SELECT TO bench_todo_reader
  USING (user_id = current_setting('jwt.claims.sub', true));

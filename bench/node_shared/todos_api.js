// The schema, resolvers and SQL that both Node peers of the bench serve
// (bench/apollo/server.js, bench/yoga/server.js; see bench/README.md): what a
// team would write by hand on `pg` to answer graphql_app's read scenarios.
//
//   - the fields of node_shared/schema.graphql, named and shaped as graphql_app's;
//   - a page and its count in one statement, the statement graphql_app's
//     PostgreSQL storage sends (graphql_app/storage/_sql.py, page_sql;
//     tests/test_bench.py compares the texts), prepared once per connection
//     as asyncpg does;
//   - a per-request DataLoader for users (`me` and every todo's `creator`),
//     one `id = ANY($1)` statement per batch, as graphql_app's loader;
//   - graphql_app's access tokens verified on every request: HS256 with its
//     SECRET_KEY, `aud`, `iss`, expiry, and `typ` = "access".
//
// It needs no package of its own: each server passes in the packages it
// installed (pg, dataloader, jsonwebtoken, graphql), so that the resolvers
// use the server's own graphql-js and no package is installed twice.
"use strict";

const fs = require("fs");
const path = require("path");

const TYPE_DEFS = fs.readFileSync(path.join(__dirname, "schema.graphql"), "utf8");
const TODO_COLUMNS = "id, user_id, name, is_completed, created_at, updated_at";
const USER_COLUMNS = "id, email, fullname, password_hash, created_at";
const MAX_FIRST = 100;
const CURSOR_PREFIX = "p1:";
const LAST_MICROS = 253402300799999999n; // 9999-12-31T23:59:59.999999Z
const PG_INT8 = 20;
const PG_TIMESTAMPTZ = 1184;

// graphql_app's page_sql (PostgreSQL) for a forward page of every todo (no filter):
// $1 the owner, $2 the limit (one more than the page, to see if more follow),
// $3 and $4 the cursor's position.
function pageSql(withCursor, withCount) {
  const where = "user_id = $1";
  const position = "($3, $4)";
  const beyond = withCursor
    ? `EXISTS (SELECT 1 FROM todos WHERE ${where} AND (created_at, id) >= ${position})`
    : "false";
  const total = withCount ? "(SELECT todo_count FROM users WHERE id = $1)" : "NULL::bigint";
  const pageWhere = where + (withCursor ? ` AND (created_at, id) < ${position}` : "");
  return (
    "SELECT c.total, c.beyond, t.id, t.user_id, t.name, t.is_completed, " +
    "t.created_at, t.updated_at " +
    `FROM (SELECT ${total} AS total, ${beyond} AS beyond) AS c ` +
    `LEFT JOIN (SELECT ${TODO_COLUMNS} FROM todos WHERE ${pageWhere} ` +
    "ORDER BY created_at DESC, id DESC LIMIT $2) AS t ON true " +
    "ORDER BY t.created_at DESC, t.id DESC"
  );
}

const SQL = {
  // page[withCursor][withCount]
  page: [
    [pageSql(false, false), pageSql(false, true)],
    [pageSql(true, false), pageSql(true, true)],
  ],
  users: `SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::text[])`,
};

// -- times and cursors ---------------------------------------------------------
// timestamptz comes as PostgreSQL's text (the session's TimeZone is UTC), never
// as a JS Date, which would drop the microseconds: "2024-01-01 10:00:00.5+00".
const PG_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

function parsePgTime(text) {
  const match = PG_TIME.exec(text);
  if (match === null) throw new Error(`unexpected timestamptz text ${text}`);
  return match;
}

// The DateTime text of graphql_app (Python's isoformat() of a UTC datetime):
// six digits of fraction, or none when the microseconds are zero.
function isoTime(text) {
  const [, day, time, fraction] = parsePgTime(text);
  // PostgreSQL leaves out a zero fraction and trims trailing zeros.
  const micros = fraction === undefined ? "" : "." + fraction.padEnd(6, "0");
  return `${day}T${time}${micros}+00:00`;
}

function micros(text) {
  const [, day, time, fraction] = parsePgTime(text);
  const seconds = Date.parse(`${day}T${time}Z`) / 1000;
  return BigInt(seconds) * 1000000n + BigInt((fraction || "").padEnd(6, "0"));
}

// graphql_app/cursors.py: base64url("p1:<µs since the epoch>:<id>"), unpadded.
function encodeCursor(todo) {
  return Buffer.from(`${CURSOR_PREFIX}${micros(todo.createdAt)}:${todo.id}`).toString("base64url");
}

// The position a cursor names, [created_at text, id]; null when it is not one.
function decodeCursor(cursor) {
  const raw = Buffer.from(cursor, "base64url").toString("utf8");
  if (!raw.startsWith(CURSOR_PREFIX)) return null;
  const rest = raw.slice(CURSOR_PREFIX.length);
  const sep = rest.indexOf(":");
  const digits = rest.slice(0, sep);
  const id = rest.slice(sep + 1);
  if (sep < 0 || !id || !/^\d{1,18}$/.test(digits)) return null;
  const at = BigInt(digits);
  if (at > LAST_MICROS) return null;
  const seconds = new Date(Number(at / 1000000n) * 1000).toISOString().slice(0, 19);
  const fraction = String(at % 1000000n).padStart(6, "0");
  // PostgreSQL text holds no NUL: "ab\0..." sorts against hex ids like "ab\x01".
  const nul = id.indexOf("\u0000");
  return [`${seconds}.${fraction}+00:00`, nul < 0 ? id : id.slice(0, nul) + "\u0001"];
}

// -- the API ---------------------------------------------------------------------

function createTodosApi({ pg, DataLoader, jwt, graphql }, env = process.env) {
  const { GraphQLError, GraphQLScalarType, Kind } = graphql;

  function required(name) {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  }

  const secret = required("JWT_SECRET");
  const verifyOptions = {
    algorithms: ["HS256"],
    audience: required("JWT_AUDIENCE"),
    issuer: required("JWT_ISSUER"),
  };
  const pool = new pg.Pool({
    connectionString: required("DATABASE_URL"),
    max: Number(env.DB_POOL_SIZE || 10), // graphql_app's DB_POOL_SIZE default
    options: "-c TimeZone=UTC -c DateStyle=ISO",
    types: {
      getTypeParser(oid, format) {
        if (oid === PG_TIMESTAMPTZ) return (text) => text;
        if (oid === PG_INT8) return Number; // the counters: far below 2^53
        return pg.types.getTypeParser(oid, format);
      },
    },
  });

  function unauthenticated(message, reason) {
    return new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED", reason } });
  }

  function badInput(field, problem) {
    return new GraphQLError(`${field}: ${problem}`, {
      extensions: { code: "BAD_USER_INPUT", fields: { [field]: problem } },
    });
  }

  // graphql_app's Context.authenticate: who the caller is, or why not.
  function authenticate(authorization) {
    const value = (authorization || "").trim();
    const space = value.indexOf(" ");
    const scheme = space < 0 ? value : value.slice(0, space);
    const token = space < 0 ? "" : value.slice(space + 1).trim();
    if (!scheme) return { problem: unauthenticated("Authentication required", "TOKEN_MISSING") };
    if (scheme.toLowerCase() !== "bearer") {
      return {
        problem: unauthenticated("Authorization must be 'Bearer <token>'", "TOKEN_INVALID"),
      };
    }
    if (!token) {
      return { problem: unauthenticated("Authorization 'Bearer' has no token", "TOKEN_MISSING") };
    }
    let claims;
    try {
      claims = jwt.verify(token, secret, verifyOptions);
    } catch (error) {
      if (error.name === "TokenExpiredError") {
        return { problem: unauthenticated("Access token expired; refresh it", "TOKEN_EXPIRED") };
      }
      return { problem: unauthenticated("Invalid access token", "TOKEN_INVALID") };
    }
    const complete = ["exp", "iat", "jti"].every((claim) => claims[claim] !== undefined);
    if (!complete || claims.typ !== "access" || typeof claims.sub !== "string" || !claims.sub) {
      return { problem: unauthenticated("Invalid access token", "TOKEN_INVALID") };
    }
    return { userId: claims.sub };
  }

  function query(name, text, values) {
    // Named: prepared once per connection, like asyncpg's statement cache.
    return pool.query({ name, text, values, rowMode: "array" });
  }

  async function loadUsers(ids) {
    const { rows } = await query("users", SQL.users, [[...new Set(ids)]]);
    const found = new Map();
    for (const [id, email, fullname, , createdAt] of rows) {
      found.set(id, { id, email, fullname, createdAt });
    }
    return ids.map((id) => found.get(id) || null);
  }

  // The page of `userId`'s todos that (first, after) name; totalCount only when selected.
  async function loadPage(userId, first, after, withCount) {
    if (!(first >= 1 && first <= MAX_FIRST)) {
      throw badInput("first", `Must be between 1 and ${MAX_FIRST}`);
    }
    const values = [userId, first + 1];
    if (after !== null && after !== undefined) {
      const position = decodeCursor(after);
      if (position === null) throw badInput("after", "Invalid cursor");
      values.push(...position);
    }
    const withCursor = values.length > 2 ? 1 : 0;
    const name = `page_${withCursor}${withCount ? 1 : 0}`;
    const { rows } = await query(name, SQL.page[withCursor][withCount ? 1 : 0], values);
    const todos = [];
    for (const row of rows) {
      if (row[2] === null) continue; // the one row of an empty page
      const [, , id, ownerId, todoName, isCompleted, createdAt, updatedAt] = row;
      todos.push({ id, userId: ownerId, name: todoName, isCompleted, createdAt, updatedAt });
    }
    const more = todos.length > first;
    const edges = (more ? todos.slice(0, first) : todos).map((node) => ({ node }));
    return {
      edges,
      totalCount: withCount ? rows[0][0] || 0 : null,
      pageInfo: { hasNextPage: more, hasPreviousPage: rows[0][1], edges },
    };
  }

  // Whether the connection field's selection asks for totalCount (through fragments too).
  function selects(selectionSet, fieldName, fragments) {
    return selectionSet.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === fieldName;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        return selects(selection.selectionSet, fieldName, fragments);
      }
      const fragment = fragments[selection.name.value];
      return fragment !== undefined && selects(fragment.selectionSet, fieldName, fragments);
    });
  }

  function wantsCount(info) {
    return info.fieldNodes.some(
      (node) => node.selectionSet && selects(node.selectionSet, "totalCount", info.fragments),
    );
  }

  function requireUserId(context) {
    if (context.userId === undefined) throw context.problem;
    return context.userId;
  }

  async function loadUser(context, userId) {
    const user = await context.users.load(userId);
    if (user === null) throw unauthenticated("This account no longer exists", "TOKEN_REVOKED");
    return user;
  }

  const DateTime = new GraphQLScalarType({
    name: "DateTime",
    description: "An instant in time, RFC 3339 / ISO 8601 with an explicit UTC offset.",
    serialize: isoTime,
    parseValue() {
      throw new TypeError("DateTime is output only here");
    },
  });

  const resolvers = {
    DateTime,
    Query: {
      me: (_, __, context) => loadUser(context, requireUserId(context)),
      todos: (_, { first, after }, context, info) =>
        loadPage(requireUserId(context), first, after, wantsCount(info)),
    },
    User: {
      todos: (user, { first, after }, _, info) =>
        loadPage(user.id, first, after, wantsCount(info)),
    },
    Todo: {
      creator: (todo, _, context) => loadUser(context, todo.userId),
    },
    TodoEdge: {
      cursor: (edge) => encodeCursor(edge.node),
    },
    PageInfo: {
      startCursor: ({ edges }) => (edges.length ? encodeCursor(edges[0].node) : null),
      endCursor: ({ edges }) => (edges.length ? encodeCursor(edges[edges.length - 1].node) : null),
    },
  };

  // The per-request context: the caller (or why there is none) and its loaders.
  function context(authorization) {
    const caller = authenticate(authorization);
    return { ...caller, users: new DataLoader(loadUsers) };
  }

  return { typeDefs: TYPE_DEFS, resolvers, context, close: () => pool.end() };
}

// Listen on PORT at 127.0.0.1 with `listen(port, host, ready)`, and close on
// SIGTERM/SIGINT with `stop()`: the same start and stop for both servers.
function serveUntilSignalled(name, listen, stop) {
  const port = Number(process.env.PORT);
  if (!port) {
    console.error(`${name} bench server: PORT is not set`);
    process.exit(2);
  }
  Promise.resolve(listen(port, "127.0.0.1")).then(
    () => console.log(`${name} listening on 127.0.0.1:${port}`),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      Promise.resolve(stop()).finally(() => process.exit(0));
    });
  }
}

module.exports = { createTodosApi, serveUntilSignalled, SQL, isoTime, encodeCursor, decodeCursor };

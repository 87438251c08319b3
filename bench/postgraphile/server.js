// PostGraphile 4 in library mode over the bench database, one process, for
// bench/ (see bench/README.md). Configured from the environment by the bench:
//   PORT, DATABASE_URL        where to listen (127.0.0.1) and the database
//   JWT_SECRET                graphql_app's SECRET_KEY: the same tokens verify here
//   JWT_AUDIENCE, JWT_ISSUER  graphql_app's token `aud` and `iss`
//   PG_ROLE                   the role each request runs as (rls.sql)
"use strict";

const http = require("http");
const { postgraphile } = require("postgraphile");

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`postgraphile bench server: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const middleware = postgraphile(required("DATABASE_URL"), "public", {
  jwtSecret: required("JWT_SECRET"),
  // PostGraphile 4 checks `aud` = "postgraphile" unless told otherwise.
  jwtVerifyOptions: {
    audience: required("JWT_AUDIENCE"),
    issuer: required("JWT_ISSUER"),
    algorithms: ["HS256"],
  },
  pgDefaultRole: required("PG_ROLE"),
  // Expose only what the role may read (the todos table).
  ignoreRBAC: false,
  // PostGraphile's production recommendations.
  disableQueryLog: true,
  graphiql: false,
  watchPg: false,
  retryOnInitFail: false,
  extendedErrors: [],
  showErrorStack: false,
  setofFunctionsContainNulls: false,
  legacyRelations: "omit",
  enableQueryBatching: false,
});

const server = http.createServer(middleware);
server.keepAliveTimeout = 65000;
server.listen(Number(required("PORT")), "127.0.0.1", () => {
  console.log(`postgraphile listening on 127.0.0.1:${process.env.PORT}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

// graphql-yoga 5 over the bench database, one process, for bench/ (see
// bench/README.md): the schema, resolvers and SQL of ../node_shared/todos_api.js
// on yoga's handler under node:http. Configured from the environment by the bench:
//   PORT, DATABASE_URL        where to listen (127.0.0.1) and the database
//   JWT_SECRET                graphql_app's SECRET_KEY: the same tokens verify here
//   JWT_AUDIENCE, JWT_ISSUER  graphql_app's token `aud` and `iss`
//   DB_POOL_SIZE              connections in the pool (graphql_app's default, 10)
"use strict";

const http = require("http");
const { createSchema, createYoga } = require("graphql-yoga");
const { useDisableIntrospection } = require("@graphql-yoga/plugin-disable-introspection");
const DataLoader = require("dataloader");
const graphql = require("graphql");
const jwt = require("jsonwebtoken");
const pg = require("pg");
const { createTodosApi, serveUntilSignalled } = require("../node_shared/todos_api");

const api = createTodosApi({ pg, DataLoader, jwt, graphql });
const yoga = createYoga({
  schema: createSchema({ typeDefs: api.typeDefs, resolvers: api.resolvers }),
  context: ({ request }) => api.context(request.headers.get("authorization")),
  // Production settings: unexpected errors masked, no GraphiQL or landing
  // page, no introspection (the plugin yoga documents), no logging.
  maskedErrors: true,
  graphiql: false,
  landingPage: false,
  logging: false,
  plugins: [useDisableIntrospection()],
});

const server = http.createServer(yoga);
server.keepAliveTimeout = 65000;
serveUntilSignalled(
  "yoga",
  (port, host) => new Promise((resolve) => server.listen(port, host, resolve)),
  async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  },
);

// Apollo Server 5 over the bench database, one process, for bench/ (see
// bench/README.md): the schema, resolvers and SQL of ../node_shared/todos_api.js
// on Apollo's standalone HTTP server. Configured from the environment by the bench:
//   PORT, DATABASE_URL        where to listen (127.0.0.1) and the database
//   JWT_SECRET                graphql_app's SECRET_KEY: the same tokens verify here
//   JWT_AUDIENCE, JWT_ISSUER  graphql_app's token `aud` and `iss`
//   DB_POOL_SIZE              connections in the pool (graphql_app's default, 10)
"use strict";

const { ApolloServer } = require("@apollo/server");
const { startStandaloneServer } = require("@apollo/server/standalone");
const { ApolloServerPluginLandingPageDisabled } = require("@apollo/server/plugin/disabled");
const DataLoader = require("dataloader");
const graphql = require("graphql");
const jwt = require("jsonwebtoken");
const pg = require("pg");
const { createTodosApi, serveUntilSignalled } = require("../node_shared/todos_api");

const api = createTodosApi({ pg, DataLoader, jwt, graphql });
const server = new ApolloServer({
  typeDefs: api.typeDefs,
  resolvers: api.resolvers,
  // Production settings: no introspection, no landing page, no stack traces
  // in errors (NODE_ENV=production too); Apollo logs nothing per request.
  introspection: false,
  includeStacktraceInErrorResponses: false,
  plugins: [ApolloServerPluginLandingPageDisabled()],
});

serveUntilSignalled(
  "apollo",
  (port, host) =>
    startStandaloneServer(server, {
      listen: { port, host },
      context: async ({ req }) => api.context(req.headers.authorization),
    }),
  async () => {
    await server.stop();
    await api.close();
  },
);

// The graphql-sse client against real servers, for tests/test_clients_sse.py.
//
//   node graphql_sse_client.mjs <distinct|single> <subscribe server> <mutate server> <unique suffix>
//
// Servers are http(s) URLs of /graphql. Everything goes over graphql-sse, in
// distinct connections mode (an event stream per operation) or single
// connection mode (one stream per client, operations POSTed beside it):
// sign-up and log-in through an anonymous client, then queries and mutations
// through the second server, the subscription on the first. Prints one JSON report.
import { createClient } from "graphql-sse";

import { todoFlow } from "./todo_flow.mjs";

const [mode, subscribeUrl, mutateUrl, suffix] = process.argv.slice(2);

function sseClient(url, token) {
  // README "graphql-sse". In single connection mode the headers are read once,
  // when the stream is reserved: make the client after logging in.
  return createClient({
    url,
    singleConnection: mode === "single",
    headers: () => (token ? { Authorization: `Bearer ${token}` } : {}),
    retryAttempts: 0,
  });
}

async function run(client, query, variables) {
  // A query or mutation: one result, then the operation completes.
  for await (const result of client.iterate({ query, variables })) {
    return result;
  }
}

const anonymousClient = sseClient(mutateUrl, null);
const report = await todoFlow({
  suffix,
  anonymous: (query, variables) => run(anonymousClient, query, variables),
  connect: async (token) => {
    anonymousClient.dispose();
    const subscriber = sseClient(subscribeUrl, token);
    const mutator = sseClient(mutateUrl, token);
    return {
      run: (query, variables) => run(mutator, query, variables),
      subscribe: (query, onResult) => {
        const stop = subscriber.subscribe({ query }, {
          next: onResult,
          error: (error) => onResult({ clientError: String((error && error.message) || error) }),
          complete: () => {},
        });
        return async () => stop();
      },
      close: async () => {
        subscriber.dispose();
        mutator.dispose();
      },
    };
  },
});
console.log(JSON.stringify(report));

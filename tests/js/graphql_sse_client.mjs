// The graphql-sse client against real servers, for tests/test_clients_sse.py.
//
//   node graphql_sse_client.mjs <distinct|single> <subscribe server> <mutate server> <unique suffix>
//
// Servers are http(s) URLs of /graphql. Everything goes over graphql-sse, in
// distinct connections mode (an event stream per operation) or single
// connection mode (one stream per client, operations POSTed beside it):
// sign-up and log-in through an anonymous client, then queries and mutations
// through the second server, the subscription on the first. Prints one JSON report.
import { todoFlow } from "./todo_flow.mjs";

// --- README: graphql-sse ---
import { createClient } from "graphql-sse";
// --- end README ---

const [mode, subscribeUrl, mutateUrl, suffix] = process.argv.slice(2);
const singleConnection = mode === "single";

function sseClient(url, token) {
  // --- README: graphql-sse ---
  const client = createClient({
    url,
    singleConnection, // false: a stream per operation; true: one stream per client
    // In single connection mode the headers are read once, when the stream is
    // reserved: make that client after logging in, and anew after a refresh.
    headers: () => (token ? { Authorization: `Bearer ${token}` } : {}),
    retryAttempts: 0,
  });
  // --- end README ---
  return client;
}

// --- README: graphql-sse ---
// A query or a mutation: one result, then the operation completes.
async function run(client, query, variables) {
  for await (const result of client.iterate({ query, variables })) {
    return result;
  }
}
// --- end README ---

function subscribe(client, query, next) {
  // --- README: graphql-sse ---
  const stop = client.subscribe({ query }, {
    next, // each result: { data: { todoEvents: { kind, todoId, todo } } }
    error: (error) => next({ errors: [{ message: String(error.message || error) }] }),
    complete: () => {},
  });
  // --- end README ---
  return async () => stop();
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
      subscribe: (query, next) => subscribe(subscriber, query, next),
      close: async () => {
        subscriber.dispose();
        mutator.dispose();
      },
    };
  },
});
console.log(JSON.stringify(report));

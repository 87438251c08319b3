// The graphql-ws client (graphql-transport-ws) against real servers, for tests/test_clients_ws.py.
//
//   node graphql_ws_client.mjs <subscribe server> <mutate server> <unique suffix>
//
// Servers are http(s) URLs of /graphql. Signs up and logs in with graphql-http,
// then runs everything else over WebSockets: queries and mutations through the
// second server, the subscription on the first. Prints one JSON report.
import { createClient as createHttpClient } from "graphql-http";

import { todoFlow } from "./todo_flow.mjs";

// --- README: graphql-ws ---
import { createClient } from "graphql-ws";
import WebSocket from "ws"; // in Node; browsers have WebSocket built in

let token = null; // the access token of logIn (or refreshToken)
// --- end README ---

const [subscribeUrl, mutateUrl, suffix] = process.argv.slice(2);

function wsClient(url) {
  // --- README: graphql-ws ---
  const client = createClient({
    url, // wss://…/graphql
    webSocketImpl: WebSocket,
    // Read at each (re)connection: when the token expires the server closes with
    // 4403, and the client reconnects with the token of the moment.
    connectionParams: () => ({ Authorization: `Bearer ${token}` }),
  });
  // --- end README ---
  return client;
}

// --- README: graphql-ws ---
// A query or a mutation: one result, then the operation completes.
async function run(client, query, variables) {
  for await (const result of client.iterate({ query, variables })) {
    return result;
  }
}
// --- end README ---

function subscribe(client, query, next) {
  // --- README: graphql-ws ---
  const stop = client.subscribe({ query }, {
    next, // each result: { data: { todoEvents: { kind, todoId, todo } } }
    error: (error) => next({ errors: [{ message: String(error.reason || error.message || error) }] }),
    complete: () => {},
  });
  // --- end README ---
  return async () => stop();
}

function once(client, query, variables) {
  return new Promise((resolve, reject) => {
    let result;
    client.subscribe({ query, variables }, {
      next: (value) => (result = value),
      error: reject,
      complete: () => resolve(result),
    });
  });
}

const report = await todoFlow({
  suffix,
  anonymous: (query, variables) => once(createHttpClient({ url: mutateUrl }), query, variables),
  connect: async (accessToken) => {
    token = accessToken;
    const subscriber = wsClient(subscribeUrl.replace(/^http/, "ws"));
    const mutator = subscribeUrl === mutateUrl ? subscriber : wsClient(mutateUrl.replace(/^http/, "ws"));
    return {
      run: (query, variables) => run(mutator, query, variables),
      subscribe: (query, next) => subscribe(subscriber, query, next),
      close: async () => {
        await subscriber.dispose();
        if (mutator !== subscriber) await mutator.dispose();
      },
    };
  },
});
console.log(JSON.stringify(report));

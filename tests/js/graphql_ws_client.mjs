// The graphql-ws client (graphql-transport-ws) against real servers, for tests/test_clients_ws.py.
//
//   node graphql_ws_client.mjs <subscribe server> <mutate server> <unique suffix>
//
// Servers are http(s) URLs of /graphql. Signs up and logs in with graphql-http,
// then runs everything else over WebSockets: queries and mutations through the
// second server, the subscription on the first. Prints one JSON report.
import { createClient as createHttpClient } from "graphql-http";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { todoFlow } from "./todo_flow.mjs";

const [subscribeUrl, mutateUrl, suffix] = process.argv.slice(2);

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

let token = null;

function wsClient(url) {
  // README "graphql-ws": the token goes in connection_init; as a function, each
  // (re)connection sends the current one.
  return createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: () => ({ Authorization: `Bearer ${token}` }),
  });
}

async function run(client, query, variables) {
  // A query or mutation over the socket: one result, then the operation completes.
  for await (const result of client.iterate({ query, variables })) {
    return result;
  }
}

const report = await todoFlow({
  suffix,
  anonymous: (query, variables) => once(createHttpClient({ url: mutateUrl }), query, variables),
  connect: async (accessToken) => {
    token = accessToken;
    const subscriber = wsClient(subscribeUrl);
    const mutator = subscribeUrl === mutateUrl ? subscriber : wsClient(mutateUrl);
    return {
      run: (query, variables) => run(mutator, query, variables),
      subscribe: (query, onResult) => {
        const stop = subscriber.subscribe({ query }, {
          next: onResult,
          error: (error) => onResult({ clientError: String(error && (error.reason || error.message || error)) }),
          complete: () => {},
        });
        return async () => stop();
      },
      close: async () => {
        await subscriber.dispose();
        if (mutator !== subscriber) await mutator.dispose();
      },
    };
  },
});
console.log(JSON.stringify(report));

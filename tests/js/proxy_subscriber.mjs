// A graphql-ws client (the library Apollo's GraphQLWsLink and urql use) subscribed to
// todoEvents for as long as its stdin stays open. One JSON line per happening on
// stdout: {connected}, {event}, {closed: code}, {error}. It reconnects as a browser
// app would (retryAttempts), and resubscribes on the new socket by itself.
// Usage: node --experimental-websocket proxy_subscriber.mjs WS_URL TOKEN
import { createClient } from "graphql-ws";

const [url, token] = process.argv.slice(2);
const out = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: () => ({ Authorization: `Bearer ${token}` }),
  retryAttempts: 20,
  shouldRetry: () => true,
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 200)),
  on: {
    connected: () => out({ connected: true }),
    closed: (event) => out({ closed: event?.code ?? null }),
  },
});

client.subscribe(
  { query: "subscription { todoEvents { kind todoId todo { name } } }" },
  {
    next: (value) => out({ event: value.data?.todoEvents ?? null, errors: value.errors ?? null }),
    error: (error) => {
      out({ error: String(error?.message ?? error?.code ?? error) });
      process.exit(1);
    },
    complete: () => out({ complete: true }),
  },
);

process.stdin.resume();
process.stdin.on("end", async () => {
  await client.dispose();
  process.exit(0);
});

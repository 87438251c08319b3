// urql (npm @urql/core, pinned in tests/js) against real servers, for tests/test_urql_client.py.
//
//   node urql_client.mjs <subscribe url> <http url> <unique suffix>
//
// Subscriptions go to the first server (through subscriptionExchange over
// graphql-ws, and through fetchExchange with fetchSubscriptions: server-sent
// events), everything else to the second: against two instances sharing
// Redis, the events cross from one to the other.
// Prints one JSON object with what each step saw; the Python test asserts on it.
// --- README: urql ---
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWSClient } from "graphql-ws";
// --- end README ---
import { EVENTS_QUERY, EventQueue, createUpdateDelete, untilLive } from "./todo_events.mjs";

const [subscribeUrl, url, suffix] = process.argv.slice(2);
const wsUrl = subscribeUrl.replace(/^http/, "ws");
const email = `urql-${suffix}@example.com`;
const password = "correct horse battery";

// Every request urql sends (it uses the global fetch), as the server answered it.
const requests = [];
const platformFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const response = await platformFetch(input, init);
  const headers = new Headers(init.headers);
  const document = init.body
    ? JSON.parse(init.body).query
    : new URL(input).searchParams.get("query");
  requests.push({
    kind: document.trim().split(/[\s{(]/)[0],
    method: init.method || "GET",
    preflightHeader: headers.has("apollo-require-preflight"),
    status: response.status,
    contentType: response.headers.get("content-type"),
  });
  return response;
};

// --- README: urql ---
let token = null; // the access token of the last logIn (or refreshToken)
const wsClient = createWSClient({
  url: wsUrl,
  connectionParams: () => ({ Authorization: `Bearer ${token}` }),
});
const fetchOptions = () => ({
  headers: {
    // urql sends queries as GET without a Content-Type; CSRF prevention
    // refuses such a GET unless this header shows it is not a simple request.
    "apollo-require-preflight": "true",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
});
const client = new Client({
  url,
  fetchOptions,
  exchanges: [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || "" };
        return {
          subscribe(sink) {
            const unsubscribe = wsClient.subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});
// --- end README ---

const SIGN_UP = `
  mutation SignUp($input: CreateUserInput!) { createUser(input: $input) { user { email } } }
`;
const LOG_IN = `
  mutation LogIn($input: LogInInput!) { logIn(input: $input) { token } }
`;
const ME = `query Me { me { id email } }`;
const TODOS = `
  query Todos($first: Int, $after: String) {
    todos(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id name isCompleted } }
    }
  }
`;
const CREATE = `
  mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { id name isCompleted } }
`;
const UPDATE = `
  mutation Update($id: ID!, $input: UpdateTodoInput!) {
    updateTodo(id: $id, input: $input) { id name isCompleted }
  }
`;
const DELETE = `mutation Delete($id: ID!) { deleteTodo(id: $id) { id } }`;

/** The data of a result; a failed operation fails the script, saying why. */
function dataOf(result) {
  if (result.error) throw new Error(`urql: ${result.error.message}`);
  return result.data;
}
const codesOf = (result) =>
  result.error ? result.error.graphQLErrors.map((e) => e.extensions.code) : [];
const network = { requestPolicy: "network-only" };

const report = {};

const signUp = dataOf(
  await client.mutation(SIGN_UP, { input: { email, fullname: "Urql User", password } }).toPromise(),
);
report.signedUp = signUp.createUser.user.email;
token = dataOf(await client.mutation(LOG_IN, { input: { email, password } }).toPromise()).logIn
  .token;

// Without the preflight header, urql's GET of a query is refused (CSRF prevention).
const bare = new Client({
  url,
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  exchanges: [fetchExchange],
});
const from = requests.length;
const refused = await bare.query(ME, {}).toPromise();
report.withoutPreflight = { codes: codesOf(refused), requests: requests.slice(from) };
const me = await client.query(ME, {}, network).toPromise();
report.withPreflight = { email: dataOf(me).me.email, requests: requests.slice(from + 1) };

// Five todos (POSTed mutations), then pages of two (GET queries), newest first.
for (let i = 1; i <= 5; i++) {
  dataOf(await client.mutation(CREATE, { input: { name: `todo ${i}` } }).toPromise());
}
report.pages = [];
let after = null;
for (;;) {
  const { todos } = dataOf(await client.query(TODOS, { first: 2, after }, network).toPromise());
  report.pages.push(todos.edges.map((edge) => edge.node.name));
  report.totalCount = todos.totalCount;
  if (!todos.pageInfo.hasNextPage) break;
  after = todos.pageInfo.endCursor;
}
const first = dataOf(await client.query(TODOS, { first: 1 }, network).toPromise()).todos.edges[0]
  .node;
report.updated = dataOf(
  await client.mutation(UPDATE, { id: first.id, input: { isCompleted: true } }).toPromise(),
).updateTodo;
dataOf(await client.mutation(DELETE, { id: first.id }).toPromise());
report.afterDelete = dataOf(await client.query(TODOS, { first: 10 }, network).toPromise()).todos
  .edges.map((edge) => edge.node.name);

// Subscriptions: todoEvents on the first server, changes through the second.
const changes = {
  async create(name) {
    return dataOf(await client.mutation(CREATE, { input: { name } }).toPromise()).createTodo.id;
  },
  async update(id) {
    dataOf(await client.mutation(UPDATE, { id, input: { isCompleted: true } }).toPromise());
  },
  async remove(id) {
    dataOf(await client.mutation(DELETE, { id }).toPromise());
  },
};

async function receive(subscriber, name) {
  const queue = new EventQueue();
  const subscription = subscriber
    .subscription(EVENTS_QUERY, {})
    .subscribe((result) => queue.push(result.error ?? result.data));
  try {
    const probes = await untilLive(queue, () => changes.create("probe"));
    return { probes, ...(await createUpdateDelete(queue, changes, name)) };
  } finally {
    subscription.unsubscribe();
  }
}

// subscriptionExchange: over graphql-ws.
report.ws = await receive(client, "over graphql-ws");

// fetchExchange with fetchSubscriptions: server-sent events over HTTP.
{
  const url = subscribeUrl;
  // --- README: urql ---
  const sseClient = new Client({
    url,
    fetchOptions,
    exchanges: [cacheExchange, fetchExchange],
    fetchSubscriptions: true,
  });
  // --- end README ---
  report.sse = await receive(sseClient, "over server-sent events");
}

// What each kind of operation went as, and came back as (urql's Accept for
// queries and mutations lists text/event-stream too, after JSON).
report.requests = {};
for (const request of requests.filter((r) => r.status === 200)) {
  const seen = `${request.method} ${request.contentType.split(";")[0]}`;
  const kinds = (report.requests[request.kind] ??= []);
  if (!kinds.includes(seen)) kinds.push(seen);
}

await wsClient.dispose();
process.stdout.write(JSON.stringify(report));

// The real Apollo Client against real servers, for tests/test_apollo_client.py.
//
//   node apollo_client.mjs <subscribe url> <http url> <unique suffix> [all|refresh]
//
// Subscriptions go to the first server (over graphql-ws, and as a multipart
// subscription over HTTP), everything else to the second: against two
// instances sharing Redis, the events cross from one to the other. "refresh",
// against a server whose tokens live seconds, lets the token run out under
// the README's error link and subscriptions.
// Prints one JSON object with what each step saw; the Python test asserts on it.
import { createHash } from "node:crypto";
// --- README: Apollo Client ---
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
} from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { relayStylePagination } from "@apollo/client/utilities";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";
import { from, switchMap } from "rxjs";
// --- end README ---
import { gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { EVENTS_QUERY, EventQueue, createUpdateDelete, untilLive } from "./todo_events.mjs";

const [subscribeUrl, uri, suffix, mode = "all"] = process.argv.slice(2);
const wsUrl = subscribeUrl.replace(/^http/, "ws");
const password = "correct horse battery";
const email = `apollo-${suffix}@example.com`;

// Every request the persisted-query and batch links send, as the server received it.
const requests = [];
async function recordingFetch(input, init = {}) {
  const url = new URL(typeof input === "string" ? input : input.url);
  const body = init.body ? JSON.parse(init.body) : null;
  const response = await fetch(input, init);
  const text = await response.clone().text();
  requests.push({
    method: init.method || "GET",
    hasQuery: Boolean((body && (Array.isArray(body) ? body[0].query : body.query)) || url.searchParams.get("query")),
    batchSize: Array.isArray(body) ? body.length : null,
    persistedQuery: Boolean(
      (body && !Array.isArray(body) && body.extensions && body.extensions.persistedQuery) ||
        url.searchParams.get("extensions"),
    ),
    status: response.status,
    codes: Array.isArray(JSON.parse(text))
      ? []
      : (JSON.parse(text).errors || []).map((e) => e.extensions && e.extensions.code),
  });
  return response;
}

// Every single operation POSTed (the links use the global fetch): its name,
// what came back, and the reasons of its errors.
const traffic = [];
const platformFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const response = await platformFetch(input, init);
  const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
  if (body && !Array.isArray(body)) {
    const contentType = response.headers.get("content-type") ?? "";
    const json = /^application\/(graphql-response\+)?json/.test(contentType);
    const { errors = [] } = json ? await response.clone().json() : {};
    traffic.push({
      operation: body.operationName ?? body.query.match(/^\s*\w+\s+(\w+)/)[1],
      contentType: contentType.split(";")[0],
      reasons: errors.map((error) => error.extensions.reason ?? error.extensions.code),
    });
  }
  return response;
};

// --- README: Apollo Client ---
// The tokens of the last logIn (or refresh).
let token = null;
let refreshToken = null;

// One refresh at a time: a refresh token works once (a second use revokes the login).
let refreshing = null;
function refreshTokens() {
  refreshing ??= fetch(uri, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: "mutation Refresh($r: String!) { refreshToken(refreshToken: $r) { token refreshToken } }",
      variables: { r: refreshToken },
    }),
  })
    .then((response) => response.json())
    .then(({ data, errors }) => {
      // REFRESH_TOKEN_INVALID or REFRESH_TOKEN_REUSED: the user logs in again.
      if (errors) throw new Error(errors[0].extensions.reason);
      ({ token, refreshToken } = data.refreshToken);
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

const auth = new SetContextLink((prevContext) => ({
  headers: { ...prevContext.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
}));
// On TOKEN_EXPIRED, and only then: refresh, and retry the operation with the new token.
const refreshOnExpiry = new ErrorLink(({ error, operation, forward }) => {
  if (
    CombinedGraphQLErrors.is(error) &&
    error.errors.some((e) => e.extensions?.reason === "TOKEN_EXPIRED")
  ) {
    return from(refreshTokens()).pipe(switchMap(() => forward(operation)));
  }
});

let sentToken = null; // the token the WebSocket last connected with
let expiredToken = null; // the one the server closed it for
const wsLink = new GraphQLWsLink(
  createClient({
    url: wsUrl,
    // A function: each connection (and reconnection) sends the token current then.
    connectionParams: async () => {
      if (token === expiredToken) await refreshTokens();
      sentToken = token;
      return { Authorization: `Bearer ${token}` };
    },
    on: {
      // When its token expires the server closes the socket (4403 "TOKEN_EXPIRED");
      // graphql-ws reconnects and resubscribes, with a fresh token.
      closed: (event) => {
        if (event.reason === "TOKEN_EXPIRED") expiredToken = sentToken;
      },
    },
  }),
);

const client = new ApolloClient({
  link: ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    wsLink,
    ApolloLink.from([refreshOnExpiry, auth, new HttpLink({ uri })]),
  ),
  cache: new InMemoryCache({
    typePolicies: { Query: { fields: { todos: relayStylePagination(["filter"]) } } },
  }),
});
// --- end README ---

const SIGN_UP = gql`
  mutation SignUp($input: CreateUserInput!) {
    createUser(input: $input) { token user { id email } }
  }
`;
const LOG_IN = gql`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { token refreshToken expiresAt user { id email } }
  }
`;
const ME = gql`
  query Me { me { id email } }
`;
const TODO_FIELDS = gql`
  fragment TodoFields on Todo { id name isCompleted }
`;
const TODOS = gql`
  query Todos($first: Int, $after: String) {
    todos(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...TodoFields } }
    }
  }
  ${TODO_FIELDS}
`;
const CREATE = gql`
  mutation CreateTodo($input: CreateTodoInput!) { createTodo(input: $input) { ...TodoFields } }
  ${TODO_FIELDS}
`;
const UPDATE = gql`
  mutation UpdateTodo($id: ID!, $input: UpdateTodoInput!) {
    updateTodo(id: $id, input: $input) { ...TodoFields }
  }
  ${TODO_FIELDS}
`;
const DELETE = gql`
  mutation DeleteTodo($id: ID!) { deleteTodo(id: $id) { id } }
`;

// Subscriptions: todoEvents on the first server, changes through the second.
const EVENTS = gql(EVENTS_QUERY);
const changes = {
  async create(name) {
    const { data } = await client.mutate({ mutation: CREATE, variables: { input: { name } } });
    return data.createTodo.id;
  },
  async update(id) {
    await client.mutate({ mutation: UPDATE, variables: { id, input: { isCompleted: true } } });
  },
  async remove(id) {
    await client.mutate({ mutation: DELETE, variables: { id } });
  },
};

async function receive(subscriber, name) {
  const queue = new EventQueue();
  const subscription = subscriber.subscribe({ query: EVENTS }).subscribe({
    next: (result) => queue.push(result.error ?? result.data),
    error: (error) => queue.push(error),
    complete: () => queue.push(new Error("the subscription completed")),
  });
  try {
    const probes = await untilLive(queue, () => changes.create("probe"));
    return { probes, ...(await createUpdateDelete(queue, changes, name)) };
  } finally {
    subscription.unsubscribe();
  }
}

const report = {};

// Sign up, then log in: the auth link puts the token on every later request.
const signUp = await client.mutate({
  mutation: SIGN_UP,
  variables: { input: { email, fullname: "Apollo User", password } },
});
report.signedUp = signUp.data.createUser.user.email;
const logIn = await client.mutate({ mutation: LOG_IN, variables: { input: { email, password } } });
({ token, refreshToken } = logIn.data.logIn);
report.me = (await client.query({ query: ME })).data.me.email;

// Mode "all": HTTP (pages, cache updates, persisted queries, batches), then subscriptions.
async function everything() {
  // Five todos, one request each (the server lists them newest first).
  for (let i = 1; i <= 5; i++) {
    await client.mutate({ mutation: CREATE, variables: { input: { name: `todo ${i}` } } });
  }

  // Page through them two at a time; relayStylePagination merges the pages in the cache.
  let page = await client.query({ query: TODOS, variables: { first: 2 }, fetchPolicy: "network-only" });
  report.pages = [page.data.todos.edges.length];
  while (page.data.todos.pageInfo.hasNextPage) {
    page = await client.query({
      query: TODOS,
      variables: { first: 2, after: page.data.todos.pageInfo.endCursor },
      fetchPolicy: "network-only",
    });
    report.pages.push(page.data.todos.edges.length);
  }
  const cached = () => client.readQuery({ query: TODOS, variables: { first: 2 } }).todos;
  report.merged = cached().edges.map((edge) => edge.node.name);
  report.totalCount = cached().totalCount;

  // Create: the new todo goes at the head of the cached connection.
  await client.mutate({
    mutation: CREATE,
    variables: { input: { name: "todo 6" } },
    update(cacheProxy, { data }) {
      cacheProxy.modify({
        fields: {
          todos(existing, { toReference }) {
            const node = toReference(data.createTodo);
            return {
              ...existing,
              totalCount: existing.totalCount + 1,
              edges: [{ __typename: "TodoEdge", cursor: "", node }, ...existing.edges],
            };
          },
        },
      });
    },
  });
  report.afterCreate = cached().edges.map((edge) => edge.node.name);

  // Update: the normalized Todo changes everywhere in the cache, no refetch.
  const first = cached().edges[0].node;
  await client.mutate({ mutation: UPDATE, variables: { id: first.id, input: { isCompleted: true } } });
  report.afterUpdate = cached().edges[0].node;

  // Delete: evict the Todo; the connection drops its dangling edge.
  await client.mutate({
    mutation: DELETE,
    variables: { id: first.id },
    update(cacheProxy, { data }) {
      cacheProxy.evict({ id: cacheProxy.identify({ __typename: "Todo", id: data.deleteTodo.id }) });
      cacheProxy.gc();
    },
  });
  report.afterDelete = cached().edges.map((edge) => edge.node.name);
  report.serverAfterDelete = (
    await client.query({ query: TODOS, variables: { first: 10 }, fetchPolicy: "network-only" })
  ).data.todos.edges.map((edge) => edge.node.name);

  // Automatic persisted queries, hashed queries over GET: a miss, then a hit.
  const sha256 = (text) => createHash("sha256").update(text).digest("hex");
  const apqRequestsFrom = requests.length;
  const apqClient = new ApolloClient({
    link: ApolloLink.from([
      auth,
      new PersistedQueryLink({ sha256, useGETForHashedQueries: true }),
      new HttpLink({ uri, fetch: recordingFetch }),
    ]),
    cache: new InMemoryCache(),
  });
  const APQ = gql(`query Persisted${suffix} { me { email } }`);
  const firstRound = await apqClient.query({ query: APQ, fetchPolicy: "network-only" });
  const secondRound = await apqClient.query({ query: APQ, fetchPolicy: "network-only" });
  report.apq = {
    results: [firstRound.data.me.email, secondRound.data.me.email],
    requests: requests.slice(apqRequestsFrom),
  };

  // Batching: three queries issued together travel in one HTTP request.
  const batchRequestsFrom = requests.length;
  const batchClient = new ApolloClient({
    link: ApolloLink.from([
      auth,
      new BatchHttpLink({ uri, fetch: recordingFetch, batchMax: 10, batchInterval: 20 }),
    ]),
    cache: new InMemoryCache(),
  });
  const batched = await Promise.all([
    batchClient.query({ query: ME }),
    batchClient.query({ query: TODOS, variables: { first: 1 } }),
    batchClient.query({ query: gql`query Count { todos { totalCount } }` }),
  ]);
  report.batch = {
    results: [
      batched[0].data.me.email,
      batched[1].data.todos.edges.length,
      batched[2].data.todos.totalCount,
    ],
    requests: requests.slice(batchRequestsFrom),
  };

  // split() sends the subscription over graphql-ws, the mutations over HTTP.
  report.ws = await receive(client, "over graphql-ws");

  // HttpLink alone: a multipart subscription over HTTP.
  report.multipart = await receive(httpOnlyClient, "over multipart HTTP");
}

// Mode "refresh": the access token runs out (ACCESS_TOKEN_TTL is seconds).
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition, what, timeoutMs = 30000) {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

// A subscription that outlives its token: once the server ended it and the
// client came back (`comebacks` counts them), CREATED/UPDATED/DELETED still
// arrive. If the token runs out again meanwhile, the attempt is made again.
async function outlive(subscriber, comebacks, name) {
  const queue = new EventQueue();
  const subscription = subscriber.subscribe({ query: EVENTS }).subscribe({
    next: (result) => queue.push(result.error ?? result.data),
    error: (error) => queue.push(error),
    complete: () => queue.push(new Error("the subscription completed")),
  });
  try {
    await untilLive(queue, () => changes.create("probe"));
    const before = comebacks();
    await until(() => comebacks() > before, `${name}: the server ending it at the token's expiry`);
    for (let attempt = 1; ; attempt++) {
      const during = comebacks();
      try {
        await untilLive(queue, () => changes.create("probe"));
        const seen = await createUpdateDelete(queue, changes, name);
        if (comebacks() === during) return { attempt, ...seen };
      } catch (error) {
        if (comebacks() === during || attempt === 3) throw error;
      }
      if (attempt === 3) throw new Error(`${name}: the token ran out during every attempt`);
    }
  } finally {
    subscription.unsubscribe();
  }
}

async function tokenExpiry() {
  // HTTP: once the token expired, a query gets TOKEN_EXPIRED; the error link
  // refreshes the tokens and retries it.
  await sleep(Date.parse(logIn.data.logIn.expiresAt) - Date.now() + 1000);
  const from = traffic.length;
  report.expiredMe = (await client.query({ query: ME, fetchPolicy: "network-only" })).data.me.email;
  report.http = traffic.slice(from);

  // graphql-ws: the server closes the socket (4403) when its token expires;
  // graphql-ws reconnects, connectionParams refreshes, the subscription resumes.
  const closes = [];
  let connects = 0;
  wsLink.client.on("connected", () => connects++);
  wsLink.client.on("closed", (event) => closes.push([event.code, event.reason]));
  report.ws = await outlive(client, () => connects, "over graphql-ws");
  report.wsCloses = closes;

  // Multipart: the subscription ends with TOKEN_EXPIRED; the error link
  // refreshes and subscribes again.
  const subscribes = () => traffic.filter((t) => t.operation === "TodoEvents").length;
  report.multipart = await outlive(httpOnlyClient, subscribes, "over multipart HTTP");
  report.refreshes = traffic.filter((t) => t.operation === "Refresh");
}

// HttpLink alone: a client that runs subscriptions as multipart HTTP responses.
function httpOnly(uri) {
  // --- README: Apollo Client ---
  const httpOnlyClient = new ApolloClient({
    link: ApolloLink.from([refreshOnExpiry, auth, new HttpLink({ uri })]),
    cache: new InMemoryCache(),
  });
  // --- end README ---
  return httpOnlyClient;
}
const httpOnlyClient = httpOnly(subscribeUrl);

if (mode === "refresh") await tokenExpiry();
else await everything();

httpOnlyClient.stop();
await wsLink.client.dispose();
client.stop();
process.stdout.write(JSON.stringify(report));

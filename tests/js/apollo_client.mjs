// The real Apollo Client against a real server, for tests/test_apollo_client.py.
//
//   node apollo_client.mjs <graphql url> <unique suffix>
//
// Prints one JSON object with what each step saw; the Python test asserts on it.
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { SetContextLink } from "@apollo/client/link/context";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { relayStylePagination } from "@apollo/client/utilities";

const [uri, suffix] = process.argv.slice(2);
const password = "correct horse battery";
const email = `apollo-${suffix}@example.com`;

// Every request any link sends, as the server received it.
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

let token = null;
const auth = new SetContextLink((prevContext) => ({
  headers: { ...prevContext.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
}));

function cache() {
  return new InMemoryCache({
    typePolicies: { Query: { fields: { todos: relayStylePagination(["filter"]) } } },
  });
}

const client = new ApolloClient({
  link: ApolloLink.from([auth, new HttpLink({ uri, fetch: recordingFetch })]),
  cache: cache(),
});

const SIGN_UP = gql`
  mutation SignUp($input: CreateUserInput!) {
    createUser(input: $input) { token user { id email } }
  }
`;
const LOG_IN = gql`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { token user { id email } }
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

const report = {};

// Sign up, then log in: the auth link puts the token on every later request.
const signUp = await client.mutate({
  mutation: SIGN_UP,
  variables: { input: { email, fullname: "Apollo User", password } },
});
report.signedUp = signUp.data.createUser.user.email;
const logIn = await client.mutate({ mutation: LOG_IN, variables: { input: { email, password } } });
token = logIn.data.logIn.token;
report.me = (await client.query({ query: ME })).data.me.email;

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
  cache: cache(),
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
  cache: cache(),
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

process.stdout.write(JSON.stringify(report));

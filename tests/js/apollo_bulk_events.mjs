// The real Apollo Client applies the bulk events (BULK_UPDATED, CLEARED) to its cache
// with README's applyTodoEvent, for tests/test_apollo_client.py.
//
//   node apollo_bulk_events.mjs <graphql url> <unique suffix>
//
// The subscription travels over HTTP (Apollo's multipart subscriptions, HttpLink's
// own), so no WebSocket package is needed. Prints one JSON object with what the
// cache held at each step; the Python test asserts on it.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { relayStylePagination } from "@apollo/client/utilities";

const [uri, suffix] = process.argv.slice(2);

let token = null;
const auth = new SetContextLink((prevContext) => ({
  headers: { ...prevContext.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
}));
const client = new ApolloClient({
  link: ApolloLink.from([auth, new HttpLink({ uri })]),
  cache: new InMemoryCache({
    typePolicies: { Query: { fields: { todos: relayStylePagination(["filter"]) } } },
  }),
});

// --- README: Bulk events in Apollo Client's cache ---
function applyTodoEvent(client, e) {
  const { cache } = client;
  if (e.kind === "BULK_UPDATED" || e.kind === "CLEARED") {
    const cached = cache.extract();
    for (const [key, todo] of Object.entries(cached)) {
      if (todo.__typename !== "Todo" || todo.isCompleted !== e.filter.isCompleted) continue;
      if (e.kind === "CLEARED") cache.evict({ id: key });
      else cache.modify({ id: key, fields: { isCompleted: () => !e.filter.isCompleted, updatedAt: () => e.updatedAt } });
    }
    cache.gc();  // relayStylePagination drops edges whose node was evicted
    return client.refetchQueries({ include: "active" });
  }
  return null;
}
// --- end README ---

const SIGN_UP = gql`
  mutation SignUp($input: CreateUserInput!) { createUser(input: $input) { token } }
`;
const CREATE = gql`
  mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { id name isCompleted } }
`;
const TODOS = gql`
  query Todos($filter: TodoFilter) {
    todos(first: 50, filter: $filter) {
      totalCount
      edges { cursor node { id name isCompleted updatedAt } }
    }
  }
`;
const EVENTS = gql`
  subscription Events {
    todoEvents { kind todoId todo { id name isCompleted } filter { isCompleted } count updatedAt }
  }
`;
const SET_ALL = gql`mutation SetAll { setAllTodosCompleted(isCompleted: true) }`;
const CLEAR = gql`mutation Clear { clearCompletedTodos }`;

const report = {};
const password = "correct horse battery";
const signUp = await client.mutate({
  mutation: SIGN_UP,
  variables: { input: { email: `bulk-${suffix}@example.com`, fullname: "Bulk", password } },
});
token = signUp.data.createUser.token;
for (let i = 1; i <= 4; i++) {
  await client.mutate({ mutation: CREATE, variables: { input: { name: `todo ${i}`, isCompleted: i === 1 } } });
}

// Events, as they arrive; `waitFor` resolves with the first one that matches.
const events = [];
const waiting = [];
client.subscribe({ query: EVENTS }).subscribe({
  next: ({ data }) => {
    events.push(data.todoEvents);
    for (const w of [...waiting]) {
      if (w.match(data.todoEvents)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(data.todoEvents);
      }
    }
  },
  error: (error) => {
    process.stderr.write(`subscription failed: ${error}\n`);
    process.exit(1);
  },
});
function waitFor(match, ms) {
  const found = events.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const entry = { match, resolve };
    waiting.push(entry);
    setTimeout(() => {
      const at = waiting.indexOf(entry);
      if (at >= 0) waiting.splice(at, 1);
      resolve(null);
    }, ms);
  });
}
// The subscription is live once a probe's CREATED event arrives.
let live = false;
for (let attempt = 0; attempt < 50 && !live; attempt++) {
  const probe = await client.mutate({ mutation: CREATE, variables: { input: { name: "probe" } } });
  live = Boolean(await waitFor((e) => e.kind === "CREATED" && e.todoId === probe.data.createTodo.id, 200));
}
if (!live) throw new Error("the subscription never delivered an event");

// Two active lists in the cache: all todos, and the open ones.
const all = client.watchQuery({ query: TODOS });
const open = client.watchQuery({ query: TODOS, variables: { filter: { isCompleted: false } } });
all.subscribe({});
open.subscribe({});
await all.refetch();
await open.refetch();
const read = (variables) => client.readQuery({ query: TODOS, variables }).todos;
const summary = (connection) => ({
  totalCount: connection.totalCount,
  completed: connection.edges.map((edge) => edge.node.isCompleted),
});
report.before = { all: summary(read({})), open: summary(read({ filter: { isCompleted: false } })) };

// setAllTodosCompleted: one BULK_UPDATED event, applied in place, then the lists refetched.
const setAll = await client.mutate({ mutation: SET_ALL });
const bulk = await waitFor((e) => e.kind === "BULK_UPDATED", 5000);
report.bulkUpdated = { answer: setAll.data.setAllTodosCompleted, event: bulk };
const refetched = applyTodoEvent(client, bulk);
report.inPlace = summary(read({}));
await refetched;
report.afterBulkUpdate = {
  all: summary(read({})),
  open: summary(read({ filter: { isCompleted: false } })),
};

// clearCompletedTodos: one CLEARED event; the cached todos are evicted, the lists refetched.
const clear = await client.mutate({ mutation: CLEAR });
const cleared = await waitFor((e) => e.kind === "CLEARED", 5000);
report.cleared = { answer: clear.data.clearCompletedTodos, event: cleared };
await applyTodoEvent(client, cleared);
report.afterClear = { all: summary(read({})), open: summary(read({ filter: { isCompleted: false } })) };
report.todosLeftInCache = Object.values(client.cache.extract()).filter((o) => o.__typename === "Todo").length;
report.events = events.map((e) => e.kind);

process.stdout.write(JSON.stringify(report));
process.exit(0);

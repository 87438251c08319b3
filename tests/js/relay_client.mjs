// relay-runtime against a real server, for tests/test_relay_client.py.
//
//   node relay_client.mjs <graphql url> <unique suffix>
//
// The operations are relay/TodoList.js, compiled by relay-compiler (pinned
// here, `npm run relay`) into relay/__generated__/ as CommonJS (that folder's
// package.json says so): the ES artifacts import siblings without an
// extension, which Node's ES module loader refuses. Without React, this does
// what react-relay's hooks do, through relay-runtime's public API:
// usePaginationFragment's loadNext and loadPrevious (getPaginationMetadata,
// getPaginationVariables, fetchQuery, the connection handler merging pages in
// the store) and useRefetchableFragment's refetch (getRefetchMetadata: a
// node(id:) query spreading the fragment).
// Prints one JSON object with what each step saw; the Python test asserts on it.
import {
  ConnectionHandler,
  ROOT_ID,
  commitMutation,
  createOperationDescriptor,
  fetchQuery,
  getFragment,
  getPaginationMetadata,
  getPaginationVariables,
  getRefetchMetadata,
  getSelector,
  getValueAtPath,
} from "relay-runtime";
import TodoItem from "./relay/__generated__/TodoItem_todo.graphql.js";
import TodoList from "./relay/__generated__/TodoList_query.graphql.js";
import TodoListCreateMutation from "./relay/__generated__/TodoListCreateMutation.graphql.js";
import TodoListQuery from "./relay/__generated__/TodoListQuery.graphql.js";
import TodoListSignUpMutation from "./relay/__generated__/TodoListSignUpMutation.graphql.js";

const [url, suffix] = process.argv.slice(2);
const requests = [];

// --- README: Relay ---
import { Environment, Network, RecordSource, Store } from "relay-runtime";

let token = null; // the access token of createUser, logIn or refreshToken

async function fetchGraphQL(request, variables) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: request.text, operationName: request.name, variables }),
  });
  return response.json();
}

const environment = new Environment({
  network: Network.create(fetchGraphQL),
  store: new Store(new RecordSource()),
});
// --- end README ---
const retained = [];

function mutate(mutation, variables) {
  return new Promise((resolve, reject) => {
    commitMutation(environment, {
      mutation,
      variables,
      onCompleted: (response, errors) =>
        errors ? reject(new Error(JSON.stringify(errors))) : resolve(response),
      onError: reject,
    });
  });
}

// fetchQuery only keeps data while the request is in flight; a component would retain it.
async function query(request, variables) {
  const operation = createOperationDescriptor(request, variables);
  retained.push(environment.retain(operation));
  requests.push({ name: request.params.name, variables });
  await fetchQuery(environment, request, variables).toPromise();
  return environment.lookup(operation.fragment).data;
}

// usePaginationFragment(TodoList_query, ...) without React.
const listFragment = getFragment(TodoList);
const pagination = getPaginationMetadata(listFragment, "relay_client");

function readList(selector) {
  const data = environment.lookup(selector).data;
  const connection = getValueAtPath(data, pagination.connectionPathInFragmentData);
  return {
    names: connection.edges.map((edge) => edge.node && itemData(edge.node).name),
    nodes: connection.edges.map((edge) => edge.node),
    pageInfo: connection.pageInfo,
    totalCount: connection.totalCount,
  };
}

async function loadMore(selector, direction, count) {
  const { pageInfo } = readList(selector);
  const cursor = direction === "forward" ? pageInfo.endCursor : pageInfo.startCursor;
  const variables = getPaginationVariables(
    direction,
    count,
    cursor,
    selector.variables, // the fragment's own variables, as the hook passes them
    {},
    pagination.paginationMetadata,
  );
  await query(pagination.paginationRequest, variables);
  return readList(selector);
}

async function openList(variables) {
  return getSelector(listFragment, await query(TodoListQuery, variables));
}

async function walk(direction, count) {
  const start = direction === "forward" ? { first: count } : { last: count };
  const selector = await openList(start);
  const seen = [readList(selector)];
  const more = direction === "forward" ? "hasNextPage" : "hasPreviousPage";
  while (seen.at(-1).pageInfo[more] && seen.length < 20) {
    seen.push(await loadMore(selector, direction, count));
  }
  return { selector, seen };
}

// useFragment(TodoItem_todo, ref) and useRefetchableFragment's refetch.
const itemFragment = getFragment(TodoItem);
function itemData(ref) {
  return environment.lookup(getSelector(itemFragment, ref)).data;
}

const report = {};
const signedUp = await mutate(TodoListSignUpMutation, {
  input: { email: `relay-${suffix}@example.com`, fullname: "Relay", password: "correct horse battery" },
});
token = signedUp.createUser.token;
report.user = signedUp.createUser.user;

for (let i = 0; i < 7; i++) {
  await mutate(TodoListCreateMutation, { input: { name: `todo ${i}` }, connections: [] });
}

const forward = await walk("forward", 3);
report.forward = forward.seen.map(({ names, pageInfo, totalCount }) => ({ names, pageInfo, totalCount }));

const backward = await walk("backward", 3);
report.backward = backward.seen.map(({ names, pageInfo, totalCount }) => ({ names, pageInfo, totalCount }));

// A new todo goes to the top of the list the store holds, without a refetch.
const connectionId = ConnectionHandler.getConnectionID(ROOT_ID, "TodoList_todos");
await mutate(TodoListCreateMutation, { input: { name: "newest" }, connections: [connectionId] });
report.afterCreate = readList(backward.selector).names;

// Another client renames the oldest todo; the store still has the old name
// until the fragment is refetched through node(id:).
const oldestRef = readList(backward.selector).nodes.at(-1);
const before = itemData(oldestRef);
const renamed = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
  body: JSON.stringify({
    query: "mutation R($id: ID!) { updateTodo(id: $id, input: {name: \"renamed elsewhere\"}) { id } }",
    variables: { id: before.id },
  }),
}).then((response) => response.json());
const stale = itemData(oldestRef);
const refetch = getRefetchMetadata(itemFragment, "relay_client");
const refetched = await query(refetch.refetchableRequest, {
  [refetch.identifierInfo.identifierQueryVariableName]: before.id,
});
report.refetch = {
  identifierField: refetch.identifierInfo.identifierField,
  queryText: refetch.refetchableRequest.params.text,
  renamed,
  before,
  stale,
  throughNode: refetched.node && itemData(refetched.node),
  inList: readList(backward.selector).names,
};
const missing = await query(refetch.refetchableRequest, { id: "not-a-todo" });
report.missingNode = missing.node;
report.requests = requests.map((request) => request.name);
report.paginationVariables = requests
  .filter((request) => request.name === pagination.paginationRequest.params.name)
  .map((request) => request.variables);

for (const disposable of retained) disposable.dispose();
console.log(JSON.stringify(report));

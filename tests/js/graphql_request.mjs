// graphql-request (npm graphql-request, pinned in tests/js) against a real server,
// for tests/test_graphql_request_client.py.
//
//   node graphql_request.mjs <graphql url> <unique suffix>
//
// Signs up, logs in (a wrong password first), runs queries and mutations and
// pages through todos. Prints one JSON object with what each step saw.
// --- README: graphql-request ---
import { ClientError, GraphQLClient, gql } from "graphql-request";
// --- end README ---

const [url, suffix] = process.argv.slice(2);
const email = `graphql-request-${suffix}@example.com`;
const password = "correct horse battery";

// --- README: graphql-request ---
let token = null;
const client = new GraphQLClient(url, {
  // A function: read on every request, so a new token applies at once.
  headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
});

const LOG_IN = gql`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) { token }
  }
`;

async function logIn(email, password) {
  try {
    ({ logIn: { token } } = await client.request(LOG_IN, { input: { email, password } }));
  } catch (error) {
    // GraphQL errors arrive as a ClientError; the code says what went wrong.
    if (error instanceof ClientError) {
      throw new Error(error.response.errors[0].extensions.code);
    }
    throw error;
  }
}
// --- end README ---

const SIGN_UP = gql`
  mutation SignUp($input: CreateUserInput!) {
    createUser(input: $input) { token user { id email fullname } }
  }
`;
const ME = gql`
  query Me { me { email fullname } }
`;
const TODOS = gql`
  query Todos($first: Int, $after: String) {
    todos(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id name isCompleted } }
    }
  }
`;
const CREATE = gql`
  mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { id name isCompleted } }
`;
const UPDATE = gql`
  mutation Update($id: ID!, $input: UpdateTodoInput!) {
    updateTodo(id: $id, input: $input) { id name isCompleted }
  }
`;
const DELETE = gql`
  mutation Delete($id: ID!) { deleteTodo(id: $id) { id } }
`;
const TODO = gql`
  query Todo($id: ID!) { todo(id: $id) { id name } }
`;

const report = {};
const codeOf = (error) =>
  error instanceof ClientError ? error.response.errors.map((e) => e.extensions.code) : String(error);

// Sign up; the token is dropped, to log in with the password.
const signUp = await client.request(SIGN_UP, {
  input: { email, fullname: "Request User", password },
});
report.signedUp = signUp.createUser.user.email;

// Without a token `me` fails with UNAUTHENTICATED, as a ClientError.
try {
  await client.request(ME);
  report.anonymousMe = "no error";
} catch (error) {
  report.anonymousMe = codeOf(error);
}

// A wrong password, then the right one.
try {
  await logIn(email, "not the password");
  report.wrongPassword = "no error";
} catch (error) {
  report.wrongPassword = error.message;
}
await logIn(email, password);
report.me = (await client.request(ME)).me;

// Five todos, then pages of two (newest first).
const created = [];
for (let i = 1; i <= 5; i++) {
  created.push((await client.request(CREATE, { input: { name: `todo ${i}` } })).createTodo);
}
report.pages = [];
let after = null;
for (;;) {
  const { todos } = await client.request(TODOS, { first: 2, after });
  report.pages.push(todos.edges.map((edge) => edge.node.name));
  report.totalCount = todos.totalCount;
  if (!todos.pageInfo.hasNextPage) break;
  after = todos.pageInfo.endCursor;
}

// Update, delete, and the deleted todo is gone.
const target = created[0];
report.updated = (
  await client.request(UPDATE, { id: target.id, input: { name: "renamed", isCompleted: true } })
).updateTodo;
report.deleted = (await client.request(DELETE, { id: target.id })).deleteTodo.id === target.id;
report.afterDelete = (await client.request(TODO, { id: target.id })).todo;
try {
  await client.request(DELETE, { id: target.id });
  report.deleteAgain = "no error";
} catch (error) {
  report.deleteAgain = codeOf(error);
}

// rawRequest: the status and headers beside the data.
const raw = await client.rawRequest("query Count { todos { totalCount } }");
report.raw = {
  status: raw.status,
  contentType: raw.headers.get("content-type"),
  totalCount: raw.data.todos.totalCount,
};

process.stdout.write(JSON.stringify(report));

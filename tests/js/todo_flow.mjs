// What every subscribing client script does, through the client it is given:
// sign up and log in, query over the client, create five todos and page through
// them, subscribe on one server, then create, update and delete a todo through
// the other and receive CREATED, UPDATED, DELETED in order.
//
// `client` provides:
//   signUp/logIn:  run(query, variables) before a token exists (over HTTP or the client itself)
//   connect(token) -> { run(query, variables) on the mutate server, subscribe(query, onResult) -> stop }
//
// Prints nothing; returns the report the Python test asserts on.

const SIGN_UP = `mutation SignUp($input: CreateUserInput!) {
  createUser(input: $input) { token user { id email } }
}`;
const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token user { id email } }
}`;
const ME = `query Me { me { id email } }`;
const CREATE = `mutation Create($input: CreateTodoInput!) {
  createTodo(input: $input) { id name isCompleted }
}`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateTodoInput!) {
  updateTodo(id: $id, input: $input) { id name isCompleted }
}`;
const DELETE = `mutation Delete($id: ID!) { deleteTodo(id: $id) { id } }`;
const PAGE = `query Page($first: Int!, $after: String) {
  todos(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name } }
  }
}`;
export const EVENTS = `subscription Events { todoEvents { kind todoId todo { id name isCompleted } } }`;

const password = "correct horse battery";

function dataOf(result, field) {
  if (result.errors && result.errors.length) {
    throw new Error(`${field}: ${JSON.stringify(result.errors)}`);
  }
  return result.data[field];
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves once `predicate()` holds, checking every 20 ms; rejects after `ms`.
async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function todoFlow({ anonymous, connect, suffix }) {
  const email = `client-${suffix}@example.com`;
  const report = {};
  const signedUp = dataOf(
    await anonymous(SIGN_UP, { input: { email, fullname: "Ada Lovelace", password } }),
    "createUser",
  );
  report.signedUp = signedUp.user;
  const loggedIn = dataOf(await anonymous(LOG_IN, { input: { email, password } }), "logIn");
  const client = await connect(loggedIn.token);
  try {
    report.me = dataOf(await client.run(ME), "me");

    for (let i = 1; i <= 5; i++) {
      dataOf(await client.run(CREATE, { input: { name: `todo ${i}` } }), "createTodo");
    }
    report.pages = [];
    let after = null;
    for (;;) {
      const page = dataOf(await client.run(PAGE, { first: 2, after }), "todos");
      report.pages.push({
        names: page.edges.map((e) => e.node.name),
        hasNextPage: page.pageInfo.hasNextPage,
        totalCount: page.totalCount,
      });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }

    const events = [];
    const stop = client.subscribe(EVENTS, (result) => events.push(result));
    try {
      // A change made before the server has subscribed is not delivered: probe until one is.
      for (let attempt = 0; ; attempt++) {
        const probe = dataOf(await client.run(CREATE, { input: { name: "probe" } }), "createTodo");
        try {
          await until(() => events.some((e) => e.data && e.data.todoEvents.todoId === probe.id), 500, "a probe");
          break;
        } catch (err) {
          if (attempt >= 40) throw err;
        }
      }
      const todo = dataOf(await client.run(CREATE, { input: { name: "buy milk" } }), "createTodo");
      dataOf(await client.run(UPDATE, { id: todo.id, input: { isCompleted: true } }), "updateTodo");
      report.deleted = dataOf(await client.run(DELETE, { id: todo.id }), "deleteTodo");
      const about = () => events.filter((e) => !e.data || e.data.todoEvents.todoId === todo.id);
      await until(() => about().length >= 3, 10000, "three events");
      report.todo = todo;
      report.events = about().map((e) => (e.data ? e.data.todoEvents : e));
    } finally {
      await stop();
    }
  } finally {
    await client.close();
  }
  return report;
}

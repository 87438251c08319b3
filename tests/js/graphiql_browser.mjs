// Opens the server's GraphiQL in headless Chromium (Debian's, never a downloaded
// browser), logs in with the page's helper, runs `me`, then subscribes to
// todoEvents in the page while this script, another client, creates a todo
// over plain HTTP; saves a screenshot of the event in the result pane.
//
//   node graphiql_browser.mjs <server url> <email> <password> <screenshot path> [chromium]
//
// Prints one JSON object with what the page showed, for tests/test_graphiql_browser.py.
import { chromium } from "playwright-core";

const [base, email, password, screenshot, executablePath = "/usr/bin/chromium"] =
  process.argv.slice(2);

const SUBSCRIPTION = `# Live changes to your todos, over WebSocket.
subscription TodoEvents {
  todoEvents {
    kind
    todo { id name isCompleted createdAt }
  }
}
`;
const SUBSCRIBED_TODO = "Read Menabrea's paper";
const LOG_IN = "mutation LogIn($input: LogInInput!) { logIn(input: $input) { token } }";
const CREATE = "mutation Create($input: CreateTodoInput!) { createTodo(input: $input) { id } }";

async function graphql(query, variables, token) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const report = { consoleErrors: [], pageErrors: [], violations: [], requests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));
  page.on("request", (request) => report.requests.push(new URL(request.url()).host));
  // Any Content-Security-Policy violation (inline script or style, eval, another origin).
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });

  const response = await page.goto(`${base}/graphql`, { waitUntil: "load" });
  report.status = response.status();
  report.csp = response.headers()["content-security-policy"] || null;
  await page.waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror");

  // The log-in helper above GraphiQL puts the token in the Headers tab.
  await page.fill("#login-email", email);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
  await page.waitForFunction(() =>
    document.getElementById("login-status").textContent.startsWith("Logged in"),
  );
  report.loginStatus = await page.textContent("#login-status");
  // The editor tools area holds the Variables and Headers editors; Headers is shown.
  report.headers = await page.evaluate(() =>
    [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .filter((editor) => editor.offsetParent !== null)
      .map((editor) => editor.CodeMirror.getValue())
      .join("\n"),
  );

  // The default query is `query Me { me { ... } }`: run it.
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    (expected) => {
      const result = document.querySelector(".graphiql-response .CodeMirror");
      return result && result.CodeMirror.getValue().includes(expected);
    },
    email,
    { timeout: 15000 },
  );
  report.result = JSON.parse(
    await page.evaluate(() =>
      document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue(),
    ),
  );

  // A subscription in the page: GraphiQL runs it over its graphql-ws client.
  const resultPane = () =>
    page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue());
  await page.evaluate((text) => {
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text);
  }, SUBSCRIPTION);
  // GraphiQL reads the operation's name from the editor a moment after a change.
  await page.waitForFunction(
    () => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.operationName === "TodoEvents",
  );
  await page.click(".graphiql-execute-button");
  // Another client: plain HTTP requests with the user's own token.
  const token = (await graphql(LOG_IN, { input: { email, password } })).logIn.token;
  const create = async (name) =>
    (await graphql(CREATE, { input: { name } }, token)).createTodo.id;
  // The subscription goes live some time after it is sent: probe until an event shows.
  report.probes = 0;
  for (;;) {
    const probe = await create("probe");
    report.probes += 1;
    const shown = await page
      .waitForFunction(
        (id) => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().includes(id),
        probe,
        { timeout: 500 },
      )
      .then(() => true, () => false);
    if (shown) break;
    if (report.probes === 30) throw new Error(`no event in the result pane: ${await resultPane()}`);
  }
  const id = await create(SUBSCRIBED_TODO);
  await page.waitForFunction(
    (id) => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().includes(id),
    id,
    { timeout: 15000 },
  );
  report.event = { id, pane: JSON.parse(await resultPane()) };
  report.violations = await page.evaluate(() => window.__violations);
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));

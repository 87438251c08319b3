// Opens the server's GraphiQL in headless Chromium (Debian's, never a downloaded
// browser), logs in with the page's helper, runs `me` and saves a screenshot.
//
//   node graphiql_browser.mjs <server url> <email> <password> <screenshot path> [chromium]
//
// Prints one JSON object with what the page showed, for tests/test_graphiql_browser.py.
import { chromium } from "playwright-core";

const [base, email, password, screenshot, executablePath = "/usr/bin/chromium"] =
  process.argv.slice(2);

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
  report.violations = await page.evaluate(() => window.__violations);
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));

// Runs graphql-http's GraphQL over HTTP audit suite against a server and prints
// the results as JSON, one object per audit, for tests/test_graphql_http_audit.py.
//
//   node audit.mjs <url> [--preflight-header]
//
// --preflight-header adds `apollo-require-preflight: true` to every request, as
// a client of a server with CSRF prevention does (see README, "CSRF prevention").
import { auditServer } from "graphql-http";

const [url, ...flags] = process.argv.slice(2);
const preflight = flags.includes("--preflight-header");

function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers || {});
  if (preflight) headers.set("apollo-require-preflight", "true");
  return fetch(input, { ...init, headers });
}

async function describe(response) {
  if (!response) return null;
  let body = null;
  try {
    body = await response.clone().text();
  } catch {
    body = "(body already read)";
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

const results = await auditServer({ url, fetchFn });
const report = [];
for (const result of results) {
  report.push({
    id: result.id,
    name: result.name,
    requirement: result.name.split(" ")[0],
    status: result.status,
    reason: result.reason ?? null,
    response: result.status === "ok" ? null : await describe(result.response),
  });
}
process.stdout.write(JSON.stringify(report));

// GraphiQL for graphql_app, with a log-in helper that fills in the Authorization header.
// Served by the server itself, without inline script, under a strict Content-Security-Policy.
(function () {
  "use strict";

  var h = React.createElement;
  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.getAttribute("data-endpoint"), window.location.href).toString();
  var wsEndpoint = endpoint.replace(/^http/, "ws");

  var DEFAULT_QUERY = [
    "# Welcome to graphql_app.",
    "#",
    "# Sign up with createUser, or log in with the form above: it puts",
    '# {"Authorization": "Bearer <token>"} in the Headers tab below.',
    "# Run with Ctrl-Enter.",
    "",
    "query Me {",
    "  me {",
    "    email",
    "    todos(first: 10) {",
    "      totalCount",
    "      edges { node { id name isCompleted } }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  var LOG_IN = [
    "mutation LogIn($input: LogInInput!) {",
    "  logIn(input: $input) { token user { email } }",
    "}",
  ].join("\n");

  // The Headers editor's text, as the user last left it.
  var headersText = "{}";
  var showHeaders = null;

  function parseHeaders(text) {
    try {
      var value = JSON.parse(text || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch (error) {
      return {};
    }
  }

  function authorization() {
    var headers = parseHeaders(headersText);
    for (var name in headers) {
      if (name.toLowerCase() === "authorization") return String(headers[name]);
    }
    return "";
  }

  function withAuthorization(token) {
    var headers = parseHeaders(headersText);
    for (var name in headers) {
      if (name.toLowerCase() === "authorization") delete headers[name];
    }
    if (token) headers.Authorization = "Bearer " + token;
    return JSON.stringify(headers, null, 2);
  }

  // Subscriptions go over graphql-ws; the token travels in connection_init.
  var wsClient = graphqlWs.createClient({
    url: wsEndpoint,
    lazy: true,
    connectionParams: function () {
      var value = authorization();
      return value ? { Authorization: value } : {};
    },
  });

  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    wsClient: wsClient,
    enableIncrementalDelivery: false,
  });

  function App() {
    var state = React.useState(headersText);
    showHeaders = state[1];
    return h(GraphiQL, {
      fetcher: fetcher,
      headers: state[0],
      onEditHeaders: function (text) {
        headersText = text;
      },
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    });
  }

  function setHeaders(text) {
    headersText = text;
    if (showHeaders) showHeaders(text);
    wsClient.terminate(); // the next subscription reconnects with the new token
  }

  var form = document.getElementById("login");
  var status = document.getElementById("login-status");

  function report(message, ok) {
    status.textContent = message;
    status.className = ok ? "ok" : "error";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = {
      email: document.getElementById("login-email").value,
      password: document.getElementById("login-password").value,
    };
    fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: LOG_IN, operationName: "LogIn", variables: { input: input } }),
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (result) {
        if (result.errors && result.errors.length) {
          report(result.errors[0].message, false);
          return;
        }
        setHeaders(withAuthorization(result.data.logIn.token));
        document.getElementById("login-password").value = "";
        report("Logged in as " + result.data.logIn.user.email, true);
      })
      .catch(function (error) {
        report("Log-in failed: " + error, false);
      });
  });

  document.getElementById("logout").addEventListener("click", function () {
    setHeaders(withAuthorization(""));
    report("Token removed from the headers", true);
  });

  ReactDOM.createRoot(root).render(h(App));
})();

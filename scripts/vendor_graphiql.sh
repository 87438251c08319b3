#!/usr/bin/env bash
# Vendor GraphiQL's browser assets from npm into graphql_app/http/static/graphiql/vendor/.
#
# The server serves GraphiQL itself (no CDN: it works offline and under a strict
# Content-Security-Policy). Re-run this after changing a version below, then
# commit the result. Needs node and npm; everything else comes from the registry,
# pinned. The licence of every package in the bundle lands in vendor/LICENSES/.
set -euo pipefail

GRAPHIQL=3.8.3        # the last GraphiQL with a self-contained browser (UMD) build
REACT=18.3.1          # React 19 ships no UMD build
GRAPHQL_WS=5.16.2     # the WebSocket client GraphiQL's fetcher uses for subscriptions
ESBUILD=0.25.12       # minifies GraphiQL's (unminified) "min" bundle

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/graphql_app/http/static/graphiql/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
echo '{"name": "vendor-graphiql", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error --save-exact \
  "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" "graphql-ws@$GRAPHQL_WS"
npm install --no-audit --no-fund --loglevel=error --no-save "esbuild@$ESBUILD"

rm -rf "$dest"
mkdir -p "$dest/LICENSES"
npx --no-install esbuild node_modules/graphiql/graphiql.min.js --minify \
  --legal-comments=none --log-level=warning --outfile="$dest/graphiql.min.js"
npx --no-install esbuild node_modules/graphiql/graphiql.min.css --minify \
  --legal-comments=none --log-level=warning --outfile="$dest/graphiql.min.css"
cp node_modules/react/umd/react.production.min.js "$dest/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$dest/"
cp node_modules/graphql-ws/umd/graphql-ws.min.js "$dest/"

# Every package the bundles were built from (the runtime dependency tree, not the
# build tools): its licence text and its exact version.
node - "$dest" <<'JS'
const fs = require("fs");
const path = require("path");
const dest = process.argv[2];
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const lines = [];
for (const [where, meta] of Object.entries(lock.packages)) {
  if (!where || meta.dev || meta.extraneous) continue;
  const name = where.replace(/^.*node_modules\//, "");
  const dir = path.join(where);
  const licence = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  lines.push(`${name}@${meta.version} ${meta.license || "see LICENSES"}`);
  if (licence) {
    const file = name.replace("/", "__") + ".txt";
    fs.copyFileSync(path.join(dir, licence), path.join(dest, "LICENSES", file));
  }
}
lines.sort();
fs.writeFileSync(path.join(dest, "VERSIONS.txt"),
  "# The npm dependency tree of the pinned packages (name@version licence), which\n" +
  "# these files bundle (graphiql.min.js was built by GraphiQL's maintainers, with\n" +
  "# the versions of its release). Licence texts: LICENSES/.\n" +
  lines.join("\n") + "\n");
JS
echo "vendored GraphiQL $GRAPHIQL, React $REACT, graphql-ws $GRAPHQL_WS into ${dest#"$root/"}"
ls -la "$dest"

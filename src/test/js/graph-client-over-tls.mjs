// The JavaScript Graph client (@microsoft/microsoft-graph-client 3.x, from npm) against Tollgate's TLS listener, as
// the README sets it up: baseUrl https://127.0.0.1:<port>, customHosts ["127.0.0.1"], trust by NODE_EXTRA_CA_CERTS.
// Run by hand (not part of mvn verify, which needs only a JDK and Maven):
//   npm install --prefix /tmp/graph-js @microsoft/microsoft-graph-client@3
//   java -jar target/tollgate.jar --demo --config tls.yaml     # server.tls: {enabled: true, selfSigned: true}
//   NODE_PATH=/tmp/graph-js/node_modules NODE_EXTRA_CA_CERTS=tollgate-tls/cert.pem \
//     node src/test/js/graph-client-over-tls.mjs <proxy port>
// Exits 0 when the token reached the upstream and every page of /v1.0/users came through Tollgate over https.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + "/" : import.meta.url);
const { Client, PageIterator } = require("@microsoft/microsoft-graph-client");

const port = process.argv[2];
const origin = `https://127.0.0.1:${port}`;
const token = "opaque-test-token";
const client = Client.initWithMiddleware({
  authProvider: { getAccessToken: async () => token },
  baseUrl: origin,
  customHosts: new Set(["127.0.0.1"]),
});
const fail = (why) => { console.error("FAIL: " + why); process.exit(1); };

const echo = await client.api(`${origin}/_sim/headers`).get();   // the demo simulator echoes the headers it received
if (JSON.stringify(echo.headers.authorization) !== JSON.stringify([`Bearer ${token}`])) fail("no token upstream: " + JSON.stringify(echo.headers));

let pages = 0;
for (let page = await client.api("/users").top(7).get(); ; page = await client.api(page["@odata.nextLink"]).get()) {
  pages++;
  const next = page["@odata.nextLink"];
  if (!next) break;
  if (!next.startsWith(`${origin}/v1.0/users?`)) fail("nextLink not rewritten to Tollgate over https: " + next);
}
let users = 0;
await new PageIterator(client, await client.api("/users").top(7).get(), () => { users++; return true; }).iterate();
console.log(`OK: token upstream, ${pages} pages through ${origin}, PageIterator saw ${users} users`);

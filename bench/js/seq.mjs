// Microsoft's JavaScript Graph SDK row: N sequential client.api(`/users/${id}`).get().
//   node bench/js/seq.mjs GRAPH_URL LOGIN_URL N [WARMUP]
// HTTPS only: the SDK sends the token only over https to hosts in customHosts.
// The test CA comes from NODE_EXTRA_CA_CERTS. Fetch is Node's built-in (undici),
// with keep-alive. Prints: RESULT n= wall= cpu=  (process.cpuUsage: user+sys)
import { Client } from "@microsoft/microsoft-graph-client";

const [graphUrl, loginUrl, nArg, warmArg] = process.argv.slice(2);
const n = Number(nArg);
const warm = Number(warmArg ?? 100);
const ids = [
  "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "adele.vance@contoso.onmicrosoft.com",
  "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93", "lynne.robbins@contoso.onmicrosoft.com",
  "megan.bowen@contoso.onmicrosoft.com", "nestor.wilke@contoso.onmicrosoft.com",
  "3f1c9a2e-5b7d-4e8f-a0c1-9d2e4b6f8a10", "zoe.mueller@contoso.onmicrosoft.com",
];

// client credentials grant, once (what @azure/identity would do first)
const form = new URLSearchParams({
  grant_type: "client_credentials", client_id: "6731de76-14a6-49ae-97bc-6eba6914391e",
  client_secret: "bench-secret", scope: "https://graph.microsoft.com/.default",
});
const tr = await fetch(`${loginUrl}/contoso.onmicrosoft.com/oauth2/v2.0/token`, {
  method: "POST", body: form,
});
const token = (await tr.json()).access_token;

const client = Client.init({
  authProvider: (done) => done(null, token),
  baseUrl: graphUrl,
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(graphUrl).hostname]),
});

async function one(i) {
  const user = await client.api(`/users/${encodeURIComponent(ids[i % ids.length])}`).get();
  if (user.displayName !== "Adele Vance") throw new Error("unexpected body");
}

for (let i = 0; i < warm; i++) await one(i);
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let i = 0; i < n; i++) await one(i);
const c = process.cpuUsage(c0);
const t1 = process.hrtime.bigint();
console.log(`RESULT n=${n} wall=${(Number(t1 - t0) / 1e9).toFixed(6)} cpu=${((c.user + c.system) / 1e6).toFixed(6)}`);

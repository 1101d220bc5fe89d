// Automatic certificates over ACME against a real ACME server: Pebble (Debian's `pebble` package), with
// its companion pebble-challtestsrv as the DNS that points the test domain at 127.0.0.1. The appliance
// answers the HTTP-01 challenge on ACME_HTTP_PORT, serves the issued certificate, keeps it in DATA_DIR
// (0600) and reuses it on the next start instead of ordering again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, makeCert, Proc, run, servedCert, until } from "./support.ts";

const DOMAIN = "bridge.pebble.test";
const dir = mkdtempSync(join(tmpdir(), "pt-acme-"));
const procs: Proc[] = [];
let directory = "";
let caFile = "";
let httpPort = 0;
let mgmtPort = 0;

beforeAll(async () => {
  if (run(["sh", "-c", "command -v pebble && command -v pebble-challtestsrv"]).code !== 0)
    throw new Error("pebble is not installed: run scripts/test-deps.sh (apt-get install pebble)");
  // Pebble's HTTPS listener needs a certificate; the appliance trusts this CA for the directory (ACME_CA_FILE).
  const ca = makeCert(dir, "pebble-ca", "Pebble listener CA", ["ca.test"]);
  const listener = makeCert(dir, "pebble-listener", "localhost", ["localhost", "127.0.0.1"], ca);
  caFile = ca.crt;
  const [acmePort, dnsPort] = [await freePort(), await freePort()];
  [httpPort, mgmtPort] = [await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: listener.crt,
      privateKey: listener.key,
      httpPort,
      tlsPort: await freePort(),
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(join(dir, "pebble.json"), JSON.stringify(config));
  const dns = new Proc(
    [
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${await freePort()}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ],
    {},
    "pebble-challtestsrv",
  );
  procs.push(dns);
  await dns.waitLog(/Starting management server/, 10_000);
  const pebble = new Proc(
    ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`],
    { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    "pebble",
  );
  procs.push(pebble);
  await pebble.waitLog(/Listening on: 127\.0\.0\.1/, 15_000);
  directory = `https://localhost:${acmePort}/dir`;
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a certificate is ordered from Pebble over HTTP-01, served, kept 0600 in DATA_DIR, and reused after a restart", async () => {
  const dataDir = join(dir, "data");
  const port = await freePort();
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN: "acme-admin-token-0123456789abcdef0123456789",
    ACME_DOMAIN: DOMAIN,
    ACME_EMAIL: "ops@example.com",
    ACME_DIRECTORY: directory,
    ACME_HTTP_PORT: String(httpPort),
    ACME_CA_FILE: caFile,
  };
  const app = new Proc([], env);
  try {
    await app.waitLog(/HTTPS listening with the ACME certificate/, 45_000);
    const seen = await servedCert(port, DOMAIN);
    expect(seen).toContain(`DNS:${DOMAIN}`);
    expect(seen).toMatch(/issuer=.*Pebble/);
    // Pebble's issuing root, fetched from its management port, verifies what the appliance serves.
    const root = await (await fetch(`https://localhost:${mgmtPort}/roots/0`, { tls: { ca: await Bun.file(caFile).text() } })).text();
    // The test domain resolves only in Pebble's DNS: connect by address, verify against the domain.
    const byAddress = await fetch(`https://127.0.0.1:${port}/health`, { tls: { ca: root, serverName: DOMAIN } as never });
    expect(byAddress.status).toBe(200);
    // The challenge port answers only challenges.
    const other = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(other.status).toBe(404);
    for (const f of ["account.key", `${DOMAIN}.crt`, `${DOMAIN}.key`]) {
      expect(existsSync(join(dataDir, "acme", f))).toBe(true);
      expect(statSync(join(dataDir, "acme", f)).mode & 0o777).toBe(0o600);
    }
    expect(app.text()).not.toContain("PRIVATE KEY");
  } finally {
    expect(await app.stop()).toBe(0);
  }
  const again = new Proc([], env);
  try {
    await again.waitLog(/HTTPS listening with the ACME certificate/, 20_000);
    await Bun.sleep(500);
    expect(again.text()).not.toContain("ordering a certificate");
    expect(await servedCert(port, DOMAIN)).toContain(`DNS:${DOMAIN}`);
  } finally {
    expect(await again.stop()).toBe(0);
  }
});

test("a certificate due for renewal is ordered again and swapped in", async () => {
  // Pebble's certificates are valid for years; asking for renewal 100000 days ahead makes the stored one due.
  const dataDir = join(dir, "data");
  const port = await freePort();
  const before = await Bun.file(join(dataDir, "acme", `${DOMAIN}.crt`)).text();
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN: "acme-admin-token-0123456789abcdef0123456789",
    ACME_DOMAIN: DOMAIN,
    ACME_DIRECTORY: directory,
    ACME_HTTP_PORT: String(httpPort),
    ACME_CA_FILE: caFile,
    ACME_RENEW_DAYS: "100000",
  };
  const app = new Proc([], env);
  try {
    await app.waitLog(/HTTPS certificate renewed/, 45_000);
    const after = await Bun.file(join(dataDir, "acme", `${DOMAIN}.crt`)).text();
    expect(after).not.toBe(before);
    const serial = (pem: string) => run(["sh", "-c", `printf '%s' '${pem}' | openssl x509 -noout -serial`]).out.trim();
    await until("the renewed certificate to be served", async () => {
      const p = Bun.spawn(["sh", "-c", `echo | timeout 10 openssl s_client -connect 127.0.0.1:${port} -servername ${DOMAIN} 2>/dev/null | openssl x509 -noout -serial`], {
        stdout: "pipe",
      });
      return (await new Response(p.stdout).text()).trim() === serial(after);
    });
  } finally {
    expect(await app.stop()).toBe(0);
  }
});

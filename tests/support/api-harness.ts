// Builds the real HTTP app, pool and SQLite store around a FakeConnector, on a random port.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccountPool } from "../../src/accounts/pool.ts";
import { ClientService } from "../../src/accounts/service.ts";
import { buildApp } from "../../src/http/app.ts";
import { createLogger } from "../../src/log.ts";
import { toStringSession } from "../../src/sessions/read.ts";
import { ClientStore } from "../../src/store/clients.ts";
import { openDb } from "../../src/store/db.ts";
import { PeerStore } from "../../src/store/peers.ts";
import { callJson } from "./call-json.ts";
import { FakeConnector, type FakeBehaviour } from "./fake-connector.ts";

export const ADMIN = "admin-token-for-tests-0123456789";

/** A POST /client body for the number 380955821319 of client "acme" on `session`. */
export const startBody = (session: string, extra: Record<string, unknown> = {}) => ({
  name: "acme",
  number: "380955821319",
  url_planfix: "http://127.0.0.1:9/webchat/api",
  token_planfix: "planfix-secret-key",
  path_session: session,
  ...extra,
});

export function newSessionText(): string {
  return toStringSession({ dcId: 2, serverAddress: "127.0.0.1", port: 443, authKey: randomBytes(256) });
}

export async function startApiHarness(behaviour: FakeBehaviour = {}, opts: { apiId?: number | null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "pt-api-"));
  const sessionsDir = join(dir, "sessions");
  mkdirSync(sessionsDir, { recursive: true });
  const lines: string[] = [];
  const log = createLogger("debug", {}, (l) => lines.push(l));
  const db = openDb(join(dir, "db.sqlite"));
  const clients = new ClientStore(db);
  const connector = new FakeConnector(behaviour);
  const apiId = opts.apiId === undefined ? 1 : opts.apiId;
  const pool = new AccountPool(
    { connector, clients, peers: new PeerStore(db), sessionsDir, apiId, apiHash: apiId ? "hash" : null, connectTimeoutMs: 1000, backoffBaseMs: 50, log, hooks: () => ({ onMessage: async () => {}, onReadOutbox: async () => {}, onOnline() {}, onOffline() {} }) },
    log,
  );
  const service = new ClientService(clients, pool, { sessionsDir, apiId, apiHash: apiId ? "hash" : null, startTimeoutMs: 1500, adminToken: ADMIN }, log);
  const server = buildApp({ service, log, version: "test" }).listen({ port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${server.server!.port}`;
  /** Writes a session file into the client's folder (a client token may name only files there); returns its path. */
  const session = (name: string, text = newSessionText(), client = "acme") => {
    mkdirSync(join(sessionsDir, client), { recursive: true });
    writeFileSync(join(sessionsDir, client, name), text);
    return `${client}/${name}`;
  };
  const call = (method: string, path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}) => callJson(url, method, path, body, token, headers);
  return {
    dir,
    sessionsDir,
    url,
    db,
    clients,
    pool,
    connector,
    lines,
    session,
    call,
    async close() {
      await pool.stopAll();
      server.stop(true);
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

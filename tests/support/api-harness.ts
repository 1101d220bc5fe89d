// The whole appliance in-process (createAppliance) around a FakeConnector, on a random port.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppliance } from "../../src/appliance.ts";
import { loadSettings, type Tunables } from "../../src/config.ts";
import type { ClientRepository } from "../../src/domain/repositories.ts";
import { createLogger } from "../../src/log.ts";
import { toStringSession } from "../../src/telegram/session-file.ts";
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

export async function startApiHarness(
  behaviour: FakeBehaviour = {},
  opts: { apiId?: number | null; tunables?: Partial<Tunables>; env?: Record<string, string>; clients?: (sqlite: ClientRepository) => ClientRepository } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "pt-api-"));
  const sessionsDir = join(dir, "sessions");
  mkdirSync(sessionsDir, { recursive: true });
  const lines: string[] = [];
  const log = createLogger("debug", {}, (l) => lines.push(l));
  const connector = new FakeConnector(behaviour);
  const apiId = opts.apiId === undefined ? 1 : opts.apiId;
  const settings = loadSettings([], {
    DATA_DIR: dir,
    SESSIONS_DIR: sessionsDir,
    HOST: "127.0.0.1",
    ADMIN_TOKEN: ADMIN,
    START_TIMEOUT: "1.5",
    ...(apiId ? { TELEGRAM_API_ID: String(apiId), TELEGRAM_API_HASH: "hash" } : {}),
    ...opts.env,
  });
  const appliance = createAppliance(settings, {
    log,
    connector,
    port: 0,
    version: "test",
    tunables: { connectTimeoutCapMs: 1000, reconnectBackoffBaseMs: 50, ...opts.tunables },
    clients: opts.clients,
  });
  await appliance.start();
  const { db, clients, pool } = appliance;
  const url = `http://127.0.0.1:${appliance.port}`;
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
      await appliance.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

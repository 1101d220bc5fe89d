// Runs the compiled binary (dist/planfix-telegram) against the loopback Telegram server and the fake
// Planfix, in a fresh data directory. `make test` builds the binary first; a missing one is built here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TelegramServer, type ServerOptions, type WorldUser } from "../support/telegram/index.ts";
import { Appliance } from "../support/appliance.ts";
import { ensureBinary, worldEnv } from "../support/kit.ts";
import { startFakePlanfix } from "../support/planfix/server.ts";

export { ADMIN_TOKEN, BINARY, ensureBinary, freePort } from "../support/kit.ts";
export { Appliance, type ApplianceOptions } from "../support/appliance.ts";

/** Loopback Telegram + fake Planfix + a data dir with a sessions folder; the appliance not yet started. */
export async function world(opts: { telegram?: ServerOptions; env?: Record<string, string> } = {}) {
  ensureBinary();
  const tg = await TelegramServer.start(opts.telegram ?? {});
  const planfix = await startFakePlanfix();
  const dir = mkdtempSync(join(tmpdir(), "pt-e2e-"));
  const dataDir = join(dir, "data");
  mkdirSync(join(dataDir, "sessions"), { recursive: true });
  const env = worldEnv(`127.0.0.1:${tg.port}`, { RETRY_CAP_SECONDS: "1", ...opts.env });
  const app = new Appliance(dataDir, env);
  /** Writes a user's session string into the client's folder (a client token may name only files there); returns the path relative to the sessions directory. */
  const sessionFor = (user: WorldUser | number, name?: string, client = "acme") => {
    const id = typeof user === "number" ? user : user.id;
    const file = `${client}/${name ?? `${id}.session.txt`}`;
    mkdirSync(join(dataDir, "sessions", client), { recursive: true });
    writeFileSync(join(dataDir, "sessions", file), tg.sessionString(user));
    return file;
  };
  /** A start body for a number backed by `user`. */
  const startBody = (user: WorldUser, extra: Record<string, unknown> = {}) => ({
    name: "acme",
    number: user.phone,
    url_planfix: planfix.url,
    token_planfix: "planfix-token",
    path_session: sessionFor(user, undefined, typeof extra.name === "string" ? extra.name : "acme"),
    ...extra,
  });
  return {
    tg,
    planfix,
    app,
    dir,
    dataDir,
    sessionFor,
    startBody,
    async close() {
      await app.stop().catch(async () => app.kill9());
      await tg.stop();
      await planfix.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The import-boundary check: silent on this repository, loud on a module that crosses a line.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { violations } from "../../../scripts/check-boundaries.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-bounds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const put = (path: string, text: string) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};

test("the repository keeps its boundaries", () => {
  expect(violations(resolve(import.meta.dir, "../../.."))).toEqual([]);
});

test("GramJS, Elysia, Drizzle, the Planfix form and cross-layer imports outside their folders are each named", () => {
  put("src/telegram/ok.ts", 'import { TelegramClient } from "telegram";\n');
  put("src/http/ok.ts", 'import { Elysia } from "elysia";\n');
  put("src/store/ok.ts", 'import { eq } from "drizzle-orm";\nimport { Database } from "bun:sqlite";\n');
  put("src/bridge/gram.ts", 'import { Api } from "telegram/tl/index.js";\n');
  put("src/accounts/web.ts", 'import type { Elysia } from "elysia";\n');
  put("src/bridge/sql.ts", 'import { sql } from "drizzle-orm";\n');
  put("src/bridge/wire.ts", 'import { encodeForm } from "../planfix/form.ts";\nconst f = { planfix_token: "x" };\n');
  put("src/accounts/conn.ts", 'import { createGramjsConnector } from "../telegram/connector.ts";\n');
  put("src/bridge/routes.ts", 'const m = await import("../http/app.ts");\n');
  put("src/bridge/limit.ts", "// Telegram allows 4096 characters (a comment may say so)\nexport const LIMIT = 4096;\n");
  put("src/accounts/fine.ts", "/* 777000 sends login codes */\nexport const x = 1;\n");
  put("src/bridge/refusal.ts", '// PEER_FLOOD: the connector says "peer_flood"\nexport const blocked = (reason: string) => reason === "USER_IS_BLOCKED";\n');
  put("bench/lib/ok.ts", 'import { freePort } from "../../tests/support/kit.ts";\n');
  put("bench/lib/harness.ts", 'import { world } from "../../tests/e2e/harness.ts";\n');
  put("tests/support/loop.ts", 'import { runBench } from "../../bench/lib/bench.ts";\n');
  const found = violations(dir);
  expect(found).toEqual([
    'bench/lib/harness.ts: imports a test outside the kit (tests/support/) ("../../tests/e2e/harness.ts")',
    'src/accounts/conn.ts: imports the Telegram connector ("../telegram/connector.ts")',
    'src/accounts/web.ts: imports Elysia ("elysia")',
    'src/bridge/gram.ts: imports GramJS (telegram) ("telegram/tl/index.js")',
    'src/bridge/limit.ts: spells out Telegram\'s "4096" in the core; ask the connector (MessengerCapabilities)',
    'src/bridge/refusal.ts: spells out Telegram\'s "USER_IS_BLOCKED" in the core; ask the connector (MessengerCapabilities)',
    'src/bridge/routes.ts: imports the HTTP layer ("../http/app.ts")',
    'src/bridge/sql.ts: imports Drizzle / SQLite ("drizzle-orm")',
    'src/bridge/wire.ts: imports the Planfix wire format (planfix/form.ts) ("../planfix/form.ts")',
    "src/bridge/wire.ts: spells out the Planfix wire format (planfix_token) outside src/planfix/",
    'tests/support/loop.ts: imports bench/ ("../../bench/lib/bench.ts")',
  ]);
});

test("reading session files is the connector's: SQLite only in its reader, and the core never imports it", () => {
  const own = mkdtempSync(join(tmpdir(), "pt-bounds-sessions-"));
  const at = (path: string, text: string) => {
    mkdirSync(dirname(join(own, path)), { recursive: true });
    writeFileSync(join(own, path), text);
  };
  try {
    at("src/telegram/session-file.ts", 'import { Database } from "bun:sqlite";\n');
    at("src/sessions/read.ts", 'import { Database } from "bun:sqlite";\n');
    at("src/sessions/locate.ts", 'import { parseSessionBytes } from "../telegram/session-file.ts";\n');
    at("src/accounts/runner.ts", 'import type { SessionData } from "../telegram/session-file.ts";\n');
    expect(violations(own)).toEqual([
      'src/accounts/runner.ts: imports the Telegram connector ("../telegram/session-file.ts")',
      'src/sessions/locate.ts: imports the Telegram connector ("../telegram/session-file.ts")',
      'src/sessions/read.ts: imports Drizzle / SQLite ("bun:sqlite")',
    ]);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});

// An independent client: Telethon (Debian's python3-telethon, its own layer and TL schema) against the
// loopback server over each of its transports. Its layer is not GramJS's, so the only right outcomes are a
// working call in its layer or a clean CONNECTION_LAYER_INVALID — never an answer it cannot decode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { LAYER } from "telegram/tl/AllTLObjects";
import { SERVED_LAYERS } from "./support/telegram/layers.ts";
import { TelegramServer, type WorldUser } from "./support/telegram/index.ts";
import { MtProxyRelay } from "./support/proxy/mtproxy.ts";

const PYTHON = "/usr/bin/python3";
const PROBE = `${import.meta.dir}/support/telegram/telethon-probe.py`;
const secret = randomBytes(16).toString("hex");

let server: TelegramServer;
let proxied: TelegramServer;
beforeAll(async () => {
  server = await TelegramServer.start();
  proxied = await TelegramServer.start({ obfuscationSecret: secret });
});
afterAll(async () => {
  await server.stop();
  await proxied.stop();
  expect(server.internalErrors).toEqual([]);
  expect(proxied.internalErrors).toEqual([]);
});

interface ProbeResult {
  layer: number;
  ok: boolean;
  firstName?: string;
  error?: string;
  code?: number;
  message?: string;
}

async function probe(srv: TelegramServer, user: WorldUser, transport: string, extra: string[] = []): Promise<ProbeResult> {
  const s = user.sessions[0]!;
  const proc = Bun.spawn([PYTHON, PROBE, `${s.dcId}:${s.key.toString("base64")}`, srv.host, String(srv.port), transport, ...extra], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const line = out.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`telethon probe printed nothing (exit ${proc.exitCode}): ${err.slice(-2000)}`);
  return JSON.parse(line) as ProbeResult;
}

const haveTelethon = existsSync(PYTHON) && Bun.spawnSync([PYTHON, "-c", "import telethon"]).exitCode === 0;

describe("Telethon (python3-telethon) against the loopback", () => {
  test("python3-telethon is installed (scripts/test-deps.sh installs it)", () => {
    expect(haveTelethon).toBe(true);
  });

  const cases: [string, "server" | "proxied", string[]][] = [
    ["full", "server", []],
    ["abridged", "server", []],
    ["intermediate", "server", []],
    ["obfuscated", "server", []],
    ["mtproxy-intermediate", "proxied", [secret]],
    ["mtproxy-padded", "proxied", [secret]],
  ];
  for (const [transport, which, extra] of cases) {
    test(`${transport}: answered in its own layer or refused cleanly with CONNECTION_LAYER_INVALID`, async () => {
      const srv = which === "server" ? server : proxied;
      const user = srv.addUser({ firstName: `Telethon ${transport}` });
      const before = srv.refusedLayers.length;
      const r = await probe(srv, user, transport, extra);
      if (SERVED_LAYERS.has(r.layer)) {
        expect(r).toMatchObject({ ok: true, firstName: `Telethon ${transport}` });
      } else {
        expect(r.layer).not.toBe(LAYER);
        // Telethon maps the rpc_error text CONNECTION_LAYER_INVALID to its own error class.
        expect(r).toMatchObject({ ok: false, code: 400, error: "ConnectionLayerInvalidError" });
        // The server saw Telethon's own layer and refused it: the framing and encryption worked both ways.
        expect(srv.refusedLayers.slice(before)).toContain(r.layer);
      }
    }, 30_000);
  }

  test("through the MTProxy relay (padded intermediate inside): the same clean refusal, relayed", async () => {
    const relay = await MtProxyRelay.start({ target: server });
    try {
      const user = server.addUser({ firstName: "Telethon relayed" });
      const before = server.refusedLayers.length;
      const r = await probe(server, user, "mtproxy-padded", [relay.secret, relay.host, String(relay.port)]);
      if (SERVED_LAYERS.has(r.layer)) expect(r).toMatchObject({ ok: true });
      else {
        expect(r).toMatchObject({ ok: false, code: 400, error: "ConnectionLayerInvalidError" });
        expect(server.refusedLayers.slice(before)).toContain(r.layer);
      }
      expect(relay.relayed).toBeGreaterThanOrEqual(1);
      expect(server.transportsSeen.get("padded")).toBeGreaterThanOrEqual(1);
    } finally {
      await relay.stop();
    }
  }, 30_000);
});

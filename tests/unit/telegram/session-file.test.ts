// What the core gets of a session file: an opaque handle that shows nothing of the key, the first-start
// extras a Telethon file carries, and the one-key claim keyed by what is inside the handle.
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionReadError } from "../../../src/domain/telegram-port.ts";
import { createSessionClaims } from "../../../src/telegram/session-claims.ts";
import { telegramSessionFormats, toStringSession } from "../../../src/telegram/session-file.ts";
import { writeTelethonSession } from "../../support/telethon-session.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-session-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (key: Uint8Array) => new TextEncoder().encode(toStringSession({ dcId: 2, serverAddress: "149.154.167.51", port: 443, authKey: key }));

describe("telegramSessionFormats", () => {
  test("a handle logged or serialised by mistake shows nothing of the key or the data centre", () => {
    const key = randomBytes(256);
    const read = telegramSessionFormats.read(text(key));
    const shown = [JSON.stringify(read), JSON.stringify({ handle: read.handle }), Bun.inspect(read), String(read.handle)].join("\n");
    expect(shown).not.toContain(key.toString("hex").slice(0, 32));
    expect(shown).not.toContain(key.toString("base64").slice(0, 32));
    expect(shown).not.toContain("149.154.167.51");
    expect(shown).not.toContain("authKey");
    expect(read.updateState).toBeNull();
    expect(read.knownPeers).toEqual([]);
  });

  test("a Telethon file's access hashes and update state come as known peers and a first-start state", () => {
    const file = join(dir, "t.session");
    writeTelethonSession(file, {
      dcId: 2,
      serverAddress: "149.154.167.51",
      port: 443,
      authKey: randomBytes(256),
      entities: [{ id: 6800630955n, hash: -8070450532247928832n, username: "alfamaxhr", phone: "380955821319", name: "Alfa Max" }],
      updateState: { pts: 120, qts: 3, date: 1700000000, seq: 9 },
    });
    const read = telegramSessionFormats.read(readFileSync(file));
    expect(read.knownPeers).toEqual([
      {
        userId: "6800630955",
        accessHash: "-8070450532247928832",
        username: "alfamaxhr",
        phone: "380955821319",
        firstName: "Alfa Max",
        lastName: null,
        isBot: false,
        hasPhoto: false,
      },
    ]);
    expect(read.updateState).toEqual({ pts: 120, qts: 3, date: 1700000000 });
  });

  test("bytes that are no session throw SessionReadError with the message the API shows", () => {
    expect(() => telegramSessionFormats.read(new TextEncoder().encode("hello"))).toThrow(new SessionReadError("is not a session string or session file"));
  });

  test("two files with the same key are one session to the claims; another key is not", () => {
    const key = randomBytes(256);
    const claims = createSessionClaims();
    const running = () => true;
    expect(claims.claim(1, telegramSessionFormats.read(text(key)).handle, running)).toBeNull();
    expect(claims.holder(telegramSessionFormats.read(text(key)).handle, null, running)).toBe(1);
    expect(claims.claim(2, telegramSessionFormats.read(text(key)).handle, running)).toBe(1);
    expect(claims.holder(telegramSessionFormats.read(text(randomBytes(256))).handle, null, running)).toBeNull();
  });
});

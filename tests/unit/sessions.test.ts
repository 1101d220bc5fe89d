import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateSessionFile, SessionFileError } from "../../src/sessions/locate.ts";
import { parseStringSession, readSessionFile, toStringSession } from "../../src/sessions/read.ts";
import { writeTelethonSession } from "../support/telethon-session.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-sessions-"));
const root = join(dir, "sessions");
mkdirSync(join(root, "acme"), { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("reading session files by content", () => {
  const key = randomBytes(256);

  test("a GramJS StringSession round-trips", () => {
    const text = toStringSession({ dcId: 2, serverAddress: "149.154.167.51", port: 443, authKey: key });
    writeFileSync(join(root, "g.txt"), text + "\n");
    const f = readSessionFile(join(root, "g.txt"));
    expect(f.format).toBe("string");
    expect(f.session).toMatchObject({ dcId: 2, serverAddress: "149.154.167.51", port: 443 });
    expect(Buffer.from(f.session.authKey).equals(key)).toBe(true);
  });

  test("a Telethon string session (IPv4 packed as 4 bytes) loads", () => {
    const raw = Buffer.concat([Buffer.from([4]), Buffer.from([149, 154, 167, 91]), Buffer.from([0x01, 0xbb]), key]);
    const s = parseStringSession("1" + raw.toString("base64"));
    expect(s).toMatchObject({ dcId: 4, serverAddress: "149.154.167.91", port: 443 });
    expect(Buffer.from(s.authKey).equals(key)).toBe(true);
  });

  test("a Telethon .session file gives the key, access hashes and update state", () => {
    const file = join(root, "acme", "t.session");
    writeTelethonSession(file, {
      dcId: 2,
      serverAddress: "149.154.167.51",
      port: 443,
      authKey: key,
      entities: [
        { id: 6800630955n, hash: -8070450532247928832n, username: "alfamaxhr", phone: "380955821319", name: "Alfa Max" },
        { id: -1001234n, hash: 5n, name: "a channel" },
      ],
      updateState: { pts: 120, qts: 3, date: 1700000000, seq: 9 },
    });
    const f = readSessionFile(file);
    expect(f.format).toBe("telethon-sqlite");
    expect(Buffer.from(f.session.authKey).equals(key)).toBe(true);
    expect(f.entities).toEqual([{ userId: "6800630955", accessHash: "-8070450532247928832", username: "alfamaxhr", phone: "380955821319", name: "Alfa Max" }]);
    expect(f.updateState).toEqual({ pts: 120, qts: 3, date: 1700000000, seq: 9 });
  });

  test("a Pyrogram file takes the DC address from Telegram's list", () => {
    const file = join(root, "p.session");
    const db = new Database(file, { create: true });
    db.exec("CREATE TABLE sessions (dc_id integer primary key, api_id integer, test_mode integer, auth_key blob, date integer, user_id integer, is_bot integer)");
    db.query("INSERT INTO sessions VALUES (2, 1, 0, ?, 0, 1, 0)").run(key);
    db.close();
    expect(readSessionFile(file).session).toMatchObject({ dcId: 2, serverAddress: "149.154.167.51", port: 443 });
  });

  test("anything else is refused with a reason", () => {
    writeFileSync(join(root, "junk.txt"), "hello");
    expect(() => readSessionFile(join(root, "junk.txt"))).toThrow("not a session");
    writeFileSync(join(root, "short.txt"), "1" + Buffer.alloc(100).toString("base64"));
    expect(() => readSessionFile(join(root, "short.txt"))).toThrow("not a valid session");
    expect(() => readSessionFile(join(root, "missing.txt"))).toThrow("cannot be read");
  });
});

describe("locating session files inside SESSIONS_DIR", () => {
  writeFileSync(join(root, "acme", "380955821319.session"), "x");
  writeFileSync(join(root, "plain"), "x");
  writeFileSync(join(dir, "outside"), "x");
  symlinkSync(join(dir, "outside"), join(root, "escape"));
  symlinkSync(join(root, "plain"), join(root, "inner-link"));

  test("path_session as a folder plus name_session, with or without .session", () => {
    expect(locateSessionFile(root, "acme", "380955821319")).toBe("acme/380955821319.session");
    expect(locateSessionFile(root, "acme", "380955821319.session")).toBe("acme/380955821319.session");
    expect(locateSessionFile(root, undefined, "plain")).toBe("plain");
    expect(locateSessionFile(root, join(root, "plain"), undefined)).toBe("plain");
    expect(locateSessionFile(root, "inner-link", undefined)).toBe("inner-link");
  });

  test.each([
    ["..", undefined, 400],
    ["acme/../../outside", undefined, 400],
    [join(dir, "outside"), undefined, 400],
    ["escape", undefined, 400],
    [undefined, "../outside", 400],
    ["acme", "a/b", 400],
    ["missing", undefined, 422],
    ["acme", undefined, 422],
  ])("path %p name %p → %p", (path, name, status) => {
    try {
      locateSessionFile(root, path, name);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(SessionFileError);
      expect((e as SessionFileError).status).toBe(status as 400 | 422);
    }
  });
});

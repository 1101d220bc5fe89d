import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFolderProblem, confinementFolder } from "../../src/sessions/confine.ts";
import { locateSessionFile, SessionFileError } from "../../src/sessions/locate.ts";
import { parseStringSession, readRegisteredSession, readSessionFile, toStringSession } from "../../src/telegram/session-file.ts";
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

describe("client folders: a client token reaches only SESSIONS_DIR/<client>/", () => {
  const key = randomBytes(256);
  const text = toStringSession({ dcId: 2, serverAddress: "127.0.0.1", port: 443, authKey: key });
  const croot = join(dir, "tenants");
  mkdirSync(join(croot, "acme"), { recursive: true });
  mkdirSync(join(croot, "beta"), { recursive: true });
  writeFileSync(join(croot, "acme", "own.txt"), text);
  writeFileSync(join(croot, "beta", "boris.txt"), text);
  writeFileSync(join(croot, "top.txt"), text);
  symlinkSync(join(croot, "beta", "boris.txt"), join(croot, "acme", "sym-out.txt"));
  symlinkSync(join(croot, "acme", "own.txt"), join(croot, "acme", "sym-in.txt"));
  linkSync(join(croot, "beta", "boris.txt"), join(croot, "acme", "hard-out.txt"));
  symlinkSync(join(croot, "beta"), join(croot, "acme", "dir-out"));
  const problemOf = (path: string | undefined, name: string | undefined, folder: string | null) => {
    try {
      locateSessionFile(croot, path, name, folder);
      return null;
    } catch (e) {
      expect(e).toBeInstanceOf(SessionFileError);
      return { status: (e as SessionFileError).status, message: (e as SessionFileError).message };
    }
  };

  test("its own files, by path or by name alone; symlinks that stay inside are fine", () => {
    expect(locateSessionFile(croot, "acme/own.txt", undefined, "acme")).toBe("acme/own.txt");
    expect(locateSessionFile(croot, undefined, "own.txt", "acme")).toBe("acme/own.txt");
    expect(locateSessionFile(croot, "acme", "own.txt", "acme")).toBe("acme/own.txt");
    expect(locateSessionFile(croot, "acme/sym-in.txt", undefined, "acme")).toBe("acme/sym-in.txt");
  });

  test("another client's file, a top-level file, links out and missing files all answer the same 422", () => {
    const missing = problemOf("acme/nope.txt", undefined, "acme");
    expect(missing?.status).toBe(422);
    for (const path of ["beta/boris.txt", "top.txt", "acme/sym-out.txt", "acme/hard-out.txt", "acme/dir-out/boris.txt", "beta", "acme"]) {
      expect({ path, ...problemOf(path, undefined, "acme") }).toEqual({ path, ...missing! });
    }
    expect(missing!.message).not.toContain(croot);
    expect(missing!.message).not.toContain("nope");
    // Absolute paths are refused by their shape, wherever they point.
    expect(problemOf(join(croot, "acme", "own.txt"), undefined, "acme")?.status).toBe(400);
    expect(problemOf("/etc/passwd", undefined, "acme")?.status).toBe(400);
  });

  test("the admin may name any file inside SESSIONS_DIR, but no link out of it", () => {
    expect(locateSessionFile(croot, "beta/boris.txt", undefined, null)).toBe("beta/boris.txt");
    expect(locateSessionFile(croot, "top.txt", undefined, null)).toBe("top.txt");
    writeFileSync(join(dir, "far.txt"), text);
    linkSync(join(dir, "far.txt"), join(croot, "hard-far.txt"));
    expect(problemOf("hard-far.txt", undefined, null)?.status).toBe(400);
  });

  test("every start checks again: a symlink or hard link swapped in later is refused with a reason", () => {
    expect(Buffer.from(readRegisteredSession(croot, "acme/own.txt", "acme").session.authKey).equals(key)).toBe(true);
    // Swap: own.txt becomes a link to beta's file.
    writeFileSync(join(croot, "acme", "swap.txt"), text);
    expect(readRegisteredSession(croot, "acme/swap.txt", "acme").format).toBe("string");
    unlinkSync(join(croot, "acme", "swap.txt"));
    symlinkSync(join(croot, "beta", "boris.txt"), join(croot, "acme", "swap.txt"));
    expect(() => readRegisteredSession(croot, "acme/swap.txt", "acme")).toThrow("leads outside the client's folder");
    expect(() => readRegisteredSession(croot, "acme/hard-out.txt", "acme")).toThrow("hard link outside the client's folder");
    expect(() => readRegisteredSession(croot, "acme/gone.txt", "acme")).toThrow("cannot be read");
    // A number registered at the old top-level place keeps working there (confined to SESSIONS_DIR).
    expect(confinementFolder("top.txt", "acme")).toBeNull();
    expect(confinementFolder("acme/own.txt", "acme")).toBe("acme");
    expect(readRegisteredSession(croot, "top.txt", confinementFolder("top.txt", "acme")).format).toBe("string");
  });

  test("a Telethon file is read from the checked bytes, not reopened by path", () => {
    writeTelethonSession(join(croot, "acme", "t.session"), { dcId: 2, serverAddress: "127.0.0.1", port: 443, authKey: key, updateState: { pts: 5, qts: 0, date: 1, seq: 0 } });
    const f = readRegisteredSession(croot, "acme/t.session", "acme");
    expect(f.format).toBe("telethon-sqlite");
    expect(f.updateState?.pts).toBe(5);
  });

  test("client names that cannot be folders", () => {
    for (const bad of ["..", ".hidden", "a/b", "a\\b", "x\u0000", "x".repeat(256)]) expect(clientFolderProblem(bad)).not.toBeNull();
    for (const good of ["acme", "ACME Ltd", "Компанія"]) expect(clientFolderProblem(good)).toBeNull();
  });
});

// The Telegram connector's own tables (src/telegram/store/) in a real SQLite file: its migrations, the
// copy of the update state an older release kept in the core's accounts table, and the connector that
// resumes from what was kept and saves what is new.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppliance } from "../../../src/appliance.ts";
import { loadSettings } from "../../../src/config.ts";
import type { ConnectOptions, PeerInfo, TelegramConnector, TelegramEvents, UpdateState } from "../../../src/domain/telegram-port.ts";
import { createLogger } from "../../../src/log.ts";
import { parseStringSession } from "../../../src/telegram/session-file.ts";
import { ClientStore } from "../../../src/store/clients.ts";
import { flushWrites, openDb, type Db } from "../../../src/store/db.ts";
import { JobStore } from "../../../src/store/jobs.ts";
import { PeerStore } from "../../../src/store/peers.ts";
import { SchemaTooNewError } from "../../../src/store/schema-guard.ts";
import { telegramCapabilities } from "../../../src/telegram/capabilities.ts";
import { createSessionClaims } from "../../../src/telegram/session-claims.ts";
import { withTelegramStore } from "../../../src/telegram/store/connector.ts";
import { migrateTelegram, TELEGRAM_MIGRATIONS } from "../../../src/telegram/store/migrations.ts";
import { TelegramStore } from "../../../src/telegram/store/store.ts";
import { FakeConnector } from "../../support/fake-connector.ts";
import { ADMIN, newSessionText } from "../../support/api-harness.ts";

const dir = mkdtempSync(join(tmpdir(), "pt-tgstore-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => openDb(join(dir, `db-${++n}.db`));

/** A client and one number in the core tables, as the core writes them; returns the account id. */
async function addAccount(db: Db, number = "380955821319", sessionPath = "acme/one.session"): Promise<number> {
  const clients = new ClientStore(db);
  const client = (await clients.clientByName("acme")) ?? (await clients.createClient("acme", `h-${number}`));
  return (await clients.insertAccount({ clientId: client.id, number, urlPlanfix: "http://127.0.0.1:9/webchat/api", tokenPlanfix: "k", sessionPath })).id;
}
const rows = (db: Db) => db.$client.query("SELECT account_id AS accountId, pts, qts, date, self_user_id AS selfUserId FROM telegram_update_state ORDER BY account_id").all();

describe("Telegram migrations", () => {
  test("a fresh database gets the Telegram tables once; opening again applies nothing twice", () => {
    const file = join(dir, "twice.db");
    const db = openDb(file);
    new TelegramStore(db);
    expect(db.$client.query("SELECT id, name FROM telegram_migrations").all()).toEqual(TELEGRAM_MIGRATIONS.map((m) => ({ id: m.id, name: m.name })));
    db.$client.close();
    const again = openDb(file);
    new TelegramStore(again);
    expect((again.$client.query("SELECT count(*) AS n FROM telegram_migrations").get() as { n: number }).n).toBe(TELEGRAM_MIGRATIONS.length);
    again.$client.close();
  });

  test("the update state an older release kept in accounts.pts/qts/upd_date is copied; numbers without one get no row", async () => {
    const file = join(dir, "upgrade.db");
    const db = openDb(file); // the core schema only, as an older release left it
    const withState = await addAccount(db, "380955821319");
    await addAccount(db, "380955821320");
    db.$client.query("UPDATE accounts SET pts = 4711, qts = 3, upd_date = 1700000000 WHERE id = ?").run(withState);
    db.$client.close();

    const upgraded = openDb(file);
    const store = new TelegramStore(upgraded);
    expect(rows(upgraded)).toEqual([{ accountId: withState, pts: 4711, qts: 3, date: 1700000000, selfUserId: null }]);
    expect(store.updateStateOf(withState)).toEqual({ pts: 4711, qts: 3, date: 1700000000 });
    upgraded.$client.close();
  });

  test("a Telegram migration this binary does not carry refuses the database and leaves it as it was", () => {
    const file = join(dir, "newer.db");
    const db = openDb(file);
    migrateTelegram(db.$client, [...TELEGRAM_MIGRATIONS, { id: 99, name: "from_the_future", sql: "CREATE TABLE telegram_future (x INTEGER)" }]);
    db.$client.close();
    const older = openDb(file);
    expect(() => new TelegramStore(older)).toThrow(SchemaTooNewError);
    expect((older.$client.query("SELECT count(*) AS n FROM telegram_migrations").get() as { n: number }).n).toBe(TELEGRAM_MIGRATIONS.length + 1);
    older.$client.close();
  });
});

describe("TelegramStore", () => {
  test("saves a number's update state with the other writes of the turn, and reads it back", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    expect(store.updateStateOf(id)).toBeNull();
    await store.saveUpdateState(id, { pts: 10, qts: 0, date: 100 });
    await store.saveUpdateState(id, { pts: 12, qts: 1, date: 101 });
    expect(store.updateStateOf(id)).toEqual({ pts: 12, qts: 1, date: 101 });
    // The core's old columns are not written any more.
    expect(db.$client.query("SELECT pts, qts, upd_date AS d FROM accounts WHERE id = ?").get(id)).toEqual({ pts: null, qts: null, d: null });
    db.$client.close();
  });

  test("a state reported for a number being deleted neither fails nor takes the other writes of its batch with it", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const kept = await addAccount(db, "380955821319");
    const gone = await addAccount(db, "380955821320");
    await store.saveUpdateState(gone, { pts: 5, qts: 0, date: 1 });
    await new ClientStore(db).deleteAccount(gone);
    expect(store.updateStateOf(gone)).toBeNull(); // went with the account
    const late = store.saveUpdateState(gone, { pts: 6, qts: 0, date: 2 });
    const other = store.saveUpdateState(kept, { pts: 7, qts: 0, date: 3 });
    await Promise.all([late, other]);
    expect(rows(db)).toEqual([{ accountId: kept, pts: 7, qts: 0, date: 3, selfUserId: null }]);
    db.$client.close();
  });
});

describe("the connector keeps its own update state", () => {
  const sessionA = parseStringSession(newSessionText());
  /** A new session of sessionA's Telegram account (signed in again after a revocation). */
  const sessionA2 = parseStringSession(newSessionText());
  /** A session of another Telegram account. */
  const sessionB = parseStringSession(newSessionText());
  const selfOf = (o: ConnectOptions) => (o.session === sessionB ? "2000" : "1000");
  const events = (states: UpdateState[] = []): TelegramEvents => ({
    onMessage: async () => {},
    onReadOutbox: async () => {},
    onPeers: () => {},
    onUpdateState: (s) => void states.push(s),
    onLost: () => {},
  });
  const options = (o: Partial<ConnectOptions>): ConnectOptions => ({
    session: sessionA,
    apiId: 1,
    apiHash: "h",
    timeoutMs: 1000,
    updateState: null,
    knownPeers: [],
    events: events(),
    log: createLogger("silent"),
    ...o,
  });

  test("resumes from the kept state (not the session file's), saves each new one, keeps it for the same account's new session and forgets it for another account's", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    const fake = new FakeConnector({ selfOf });
    const connector = withTelegramStore(fake, store);
    const fromFile = { pts: 1, qts: 0, date: 1 };

    // First start: nothing kept, the session file's state is where catch-up starts.
    await connector.connect(options({ accountId: id, updateState: fromFile }));
    expect(fake.connections[0]!.options.updateState).toEqual(fromFile);
    const seen: UpdateState[] = [];
    await connector.connect(options({ accountId: id, updateState: fromFile, events: events(seen) }));
    fake.connections[1]!.options.events.onUpdateState!({ pts: 50, qts: 2, date: 500 });
    expect(seen).toEqual([{ pts: 50, qts: 2, date: 500 }]); // an observer still hears it
    flushWrites(db);

    // Next start of the same session: resumes where it was.
    await connector.connect(options({ accountId: id, updateState: fromFile }));
    expect(fake.connections[2]!.options.updateState).toEqual({ pts: 50, qts: 2, date: 500 });

    // A new session of the same account (signed in again after a revocation): resumes too, or what
    // was written while it was signed out would be skipped.
    await connector.connect(options({ accountId: id, session: sessionA2, updateState: null }));
    expect(fake.connections[3]!.resumedFrom).toEqual({ pts: 50, qts: 2, date: 500 });

    // A session of another account on the number (the file was replaced): not that state.
    await connector.connect(options({ accountId: id, session: sessionB, updateState: null }));
    expect(fake.connections[4]!.resumedFrom).toBeNull();
    expect(store.updateStateOf(id)).toBeNull();
    expect(store.selfUserOf(id)).toBe("2000");

    // Without a number nothing is kept (a bare connection).
    await connector.connect(options({ updateState: null }));
    fake.connections[5]!.options.events.onUpdateState!({ pts: 99, qts: 0, date: 9 });
    flushWrites(db);
    expect(store.updateStateOf(id)).toBeNull();
    db.$client.close();
  });

  test("a state copied from an older release is used by the first session that connects, and then belongs to its account", async () => {
    const db = fresh();
    const id = await addAccount(db);
    db.$client.query("UPDATE accounts SET pts = 70, qts = 1, upd_date = 700 WHERE id = ?").run(id);
    const store = new TelegramStore(db); // the copy: no account recorded for the row
    expect(store.selfUserOf(id)).toBeNull();
    const fake = new FakeConnector({ selfOf });
    const connector = withTelegramStore(fake, store);
    await connector.connect(options({ accountId: id, session: sessionB }));
    expect(fake.connections[0]!.resumedFrom).toEqual({ pts: 70, qts: 1, date: 700 });
    fake.connections[0]!.options.events.onUpdateState!({ pts: 71, qts: 1, date: 701 });
    flushWrites(db);
    await connector.connect(options({ accountId: id, session: sessionA }));
    expect(fake.connections[1]!.resumedFrom).toBeNull();
    db.$client.close();
  });
});

test("an appliance upgraded from a database with the update state in accounts resumes catch-up from it", async () => {
  const data = join(dir, "appliance");
  const sessionsDir = join(data, "sessions");
  mkdirSync(join(sessionsDir, "acme"), { recursive: true });
  writeFileSync(join(sessionsDir, "acme", "one.session"), newSessionText());
  // The database as the previous release left it: the core schema, a running number with its update state.
  const old = openDb(join(data, "planfix-telegram.db"));
  const id = await addAccount(old);
  old.$client.query("UPDATE accounts SET pts = 4711, qts = 3, upd_date = 1700000000 WHERE id = ?").run(id);
  old.$client.close();

  const fake = new FakeConnector();
  const settings = loadSettings([], { DATA_DIR: data, SESSIONS_DIR: sessionsDir, HOST: "127.0.0.1", ADMIN_TOKEN: ADMIN, TELEGRAM_API_ID: "1", TELEGRAM_API_HASH: "hash" });
  const appliance = createAppliance(settings, { log: createLogger("silent"), connector: fake, port: 0, version: "test" });
  await appliance.start();
  try {
    for (let i = 0; i < 100 && fake.connections.length === 0; i++) await Bun.sleep(20);
    expect(fake.connections[0]!.options.updateState).toEqual({ pts: 4711, qts: 3, date: 1700000000 });
    fake.connections[0]!.options.events.onUpdateState!({ pts: 4720, qts: 3, date: 1700000100 });
    flushWrites(appliance.db);
    expect(rows(appliance.db)).toEqual([{ accountId: id, pts: 4720, qts: 3, date: 1700000100, selfUserId: "1000" }]);
  } finally {
    await appliance.stop();
  }
});

describe("access hashes", () => {
  const hashOf = (db: Db) => db.$client.query("SELECT account_id AS accountId, user_id AS userId, access_hash AS accessHash FROM telegram_access_hashes ORDER BY user_id").all();
  const person = (userId: string, accessHash: string | null, username: string | null = null): PeerInfo => ({
    userId,
    accessHash,
    username,
    phone: null,
    firstName: "P",
    lastName: null,
    isBot: false,
    hasPhoto: false,
  });

  test("the hashes an older release kept beside each person (peers.access_hash) are copied; people without one are not", async () => {
    const file = join(dir, "hashes-upgrade.db");
    const db = openDb(file);
    const id = await addAccount(db);
    // As the older release wrote them (the core's PeerStore keeps no hash any more).
    new PeerStore(db).save(id, [person("501", null), person("502", null)]);
    db.$client.query("UPDATE peers SET access_hash = '9001' WHERE account_id = ? AND user_id = '501'").run(id);
    db.$client.close();
    const upgraded = openDb(file);
    const store = new TelegramStore(upgraded);
    expect(hashOf(upgraded)).toEqual([{ accountId: id, userId: "501", accessHash: "9001" }]);
    expect(store.accessHashOf(id, "501")).toBe("9001");
    expect(store.accessHashOf(id, "502")).toBeNull();
    upgraded.$client.close();
  });

  /** A connector whose connection records the peers it is asked to address. */
  function recordingConnector() {
    const addressed: PeerInfo[] = [];
    const opened: ConnectOptions[] = [];
    const connector: TelegramConnector = {
      capabilities: telegramCapabilities,
      claims: createSessionClaims(),
      async connect(o) {
        opened.push(o);
        return {
          self: { userId: "1", firstName: null, lastName: null, username: null, phone: null },
          sendText: async (peer) => (addressed.push(peer), { messageId: 1 }),
          sendFile: async (peer) => (addressed.push(peer), { messageId: 2 }),
          resolveUsername: async (username) => person("777", "4242", username),
          resolvePhone: async () => null,
          getUser: async (peer) => (addressed.push(peer), peer),
          downloadMedia: async () => new Uint8Array(),
          downloadProfilePhoto: async (peer) => (addressed.push(peer), null),
          probe: async () => {},
          close: async () => {},
        };
      },
    };
    return { connector, addressed, opened };
  }

  test("the connector keeps the hashes it sees and addresses people by them when the core's copy has none; a session of another account forgets them", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    const inner = recordingConnector();
    const connector = withTelegramStore(inner.connector, store);
    const base = {
      session: parseStringSession(newSessionText()),
      apiId: 1,
      apiHash: "h",
      timeoutMs: 1000,
      updateState: null,
      log: createLogger("silent"),
      events: { onMessage: async () => {}, onReadOutbox: async () => {}, onPeers: () => {}, onLost: () => {} },
    };
    // A first start with a Telethon session's entities as the known peers: their hashes are kept.
    const conn = await connector.connect({ ...base, accountId: id, knownPeers: [person("501", "9001")] });
    expect(inner.opened[0]!.sameAccount!("1000")).toBe(true); // the session's user, as the connection asks once it knows
    inner.opened[0]!.events.onPeers([person("502", "9002"), person("503", null)]);
    expect(await conn.resolveUsername("olena")).toMatchObject({ userId: "777", accessHash: "4242" });
    flushWrites(db);
    expect(hashOf(db)).toEqual([
      { accountId: id, userId: "501", accessHash: "9001" },
      { accountId: id, userId: "502", accessHash: "9002" },
      { accountId: id, userId: "777", accessHash: "4242" },
    ]);

    // The core hands over people without a hash: the connection addresses them by the kept one.
    await conn.sendText(person("502", null), "hi", "k1");
    await conn.sendFile(person("777", null), { name: "a.txt", mimeType: "text/plain", bytes: new Uint8Array([1]) }, "", "k2");
    await conn.getUser(person("501", null));
    await conn.downloadProfilePhoto(person("503", null)); // none kept: as it was
    await conn.sendText(person("501", "1234"), "hi", "k3"); // one given: used as it is
    expect(inner.addressed.map((p) => [p.userId, p.accessHash])).toEqual([
      ["502", "9002"],
      ["777", "4242"],
      ["501", "9001"],
      ["503", null],
      ["501", "1234"],
    ]);

    // The next start gets the kept hashes on the known peers the core lists without one.
    await connector.connect({ ...base, accountId: id, knownPeers: [person("502", null)] });
    expect(inner.opened[1]!.knownPeers).toEqual([person("502", "9002")]);

    // A new session of the same account (signed in again): the hashes are still its own.
    await connector.connect({ ...base, session: parseStringSession(newSessionText()), accountId: id, knownPeers: [] });
    expect(inner.opened[2]!.sameAccount!("1000")).toBe(true);
    expect(hashOf(db)).toHaveLength(3);

    // A session of another account on the number: none of these hashes are its.
    await connector.connect({ ...base, session: parseStringSession(newSessionText()), accountId: id, knownPeers: [] });
    expect(inner.opened[3]!.sameAccount!("2000")).toBe(false);
    expect(hashOf(db)).toEqual([]);
    db.$client.close();
  });

  test("the bridge asks the connector whether a number can address a person (online or not); the core's peers table keeps no hash", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    const other = await addAccount(db, "380955821320", "acme/two.session");
    const connector = withTelegramStore(recordingConnector().connector, store);
    expect(connector.knows(id, "501")).toBe(false);
    await store.saveAccessHashes(id, [person("501", "9001")]);
    expect(connector.knows(id, "501")).toBe(true);
    expect(connector.knows(other, "501")).toBe(false); // a hash is valid for the number that got it only
    await new PeerStore(db).save(id, [person("501", "9001"), person("502", "9002")]);
    expect(db.$client.query("SELECT user_id AS userId, access_hash AS accessHash FROM peers ORDER BY user_id").all()).toEqual([
      { userId: "501", accessHash: null },
      { userId: "502", accessHash: null },
    ]);
    expect((await new PeerStore(db).byId(id, "501"))?.accessHash).toBeNull();
    db.$client.close();
  });

  test("hashes go with the number when it is deleted", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    await store.saveAccessHashes(id, [person("501", "9001")]);
    await new ClientStore(db).deleteAccount(id);
    expect(hashOf(db)).toEqual([]);
    db.$client.close();
  });
});

describe("sent messages", () => {
  const sentOf = (db: Db) =>
    db.$client.query("SELECT peer_user_id AS peer, message_id AS messageId, idempotency_key AS key, read FROM telegram_sent_messages ORDER BY message_id").all();
  const olena = { userId: "501", accessHash: "9001", username: null, phone: null, firstName: "O", lastName: null, isBot: false, hasPhoto: false } satisfies PeerInfo;

  test("the message ids an older release kept for its jobs (sent_messages) are copied with the key the core derives: seed:part, in order, and whether the read was reported", async () => {
    const file = join(dir, "sent-upgrade.db");
    const db = openDb(file);
    const id = await addAccount(db);
    const jobs = new JobStore(db);
    const job = async (pf: string, seed: string) =>
      (
        await jobs.addOrGet({
          clientId: 1,
          planfixMessageId: pf,
          accountId: id,
          chatId: `c_501`,
          contactId: "501",
          peerUserId: "501",
          text: "t",
          attachments: "[]",
          randomSeed: seed,
        })
      ).job;
    const a = await job("pf-a", "aaaa");
    const b = await job("pf-b", "bbbb");
    // As the older release wrote them: job a went out as two messages and its read was reported.
    const old = db.$client.query("INSERT INTO sent_messages (account_id, peer_user_id, tg_message_id, job_id) VALUES (?, '501', ?, ?)");
    old.run(id, 12, a.id);
    old.run(id, 11, a.id);
    old.run(id, 13, b.id);
    db.$client.query("UPDATE outbound_jobs SET state = 'sent', read_reported = ? WHERE id = ?").run(1, a.id);
    db.$client.query("UPDATE outbound_jobs SET state = 'sent' WHERE id = ?").run(b.id);
    db.$client.close();
    const upgraded = openDb(file);
    const store = new TelegramStore(upgraded);
    expect(sentOf(upgraded)).toEqual([
      { peer: "501", messageId: 11, key: "aaaa:0", read: 1 },
      { peer: "501", messageId: 12, key: "aaaa:1", read: 1 },
      { peer: "501", messageId: 13, key: "bbbb:0", read: 0 },
    ]);
    // A read of the chat after the upgrade still maps to the job sent before it.
    expect(store.unreadUpTo(id, "501", 13)).toEqual([{ messageId: 13, key: "bbbb:0" }]);
    upgraded.$client.close();
  });

  test("the connector keeps each send under its key: its echo is not passed on, reads come by key until taken, and all goes with another account's session", async () => {
    const db = fresh();
    const store = new TelegramStore(db);
    const id = await addAccount(db);
    let nextId = 40;
    let inner: ConnectOptions | undefined;
    const connector = withTelegramStore(
      {
        capabilities: telegramCapabilities,
        claims: createSessionClaims(),
        async connect(o) {
          inner = o;
          return {
            self: { userId: "1", firstName: null, lastName: null, username: null, phone: null },
            sendText: async () => ({ messageId: ++nextId }),
            sendFile: async () => ({ messageId: ++nextId }),
            resolveUsername: async () => null,
            resolvePhone: async () => null,
            getUser: async (p) => p,
            downloadMedia: async () => new Uint8Array(),
            downloadProfilePhoto: async () => null,
            probe: async () => {},
            close: async () => {},
          };
        },
      },
      store,
    );
    const messages: number[] = [];
    const reads: string[][] = [];
    let pending: string[] = [];
    const conn = await connector.connect({
      accountId: id,
      session: parseStringSession(newSessionText()),
      apiId: 1,
      apiHash: "h",
      timeoutMs: 1000,
      updateState: null,
      knownPeers: [],
      log: createLogger("silent"),
      events: {
        onMessage: async (m) => void messages.push(m.messageId),
        onRead: async (_peer, keys) => (reads.push(keys), keys.filter((k) => pending.includes(k))),
        onPeers: () => {},
        onLost: () => {},
      },
    });
    expect(inner!.sameAccount!("1000")).toBe(true);
    expect(await conn.sendText(olena, "one", "s1:0")).toEqual({ messageId: 41 });
    await conn.sendFile(olena, { name: "a.txt", mimeType: "text/plain", bytes: new Uint8Array([1]) }, "", "s1:1");
    await conn.sendText(olena, "two", "s2:0");
    expect(connector.isOwnSend(id, "501", 42)).toBe(true);
    expect(connector.isOwnSend(id, "501", 44)).toBe(false);
    expect(connector.isOwnSend(id, "502", 42)).toBe(false);

    // Echoes of our sends stay in the connector; the owner's own message and an edit of ours go on.
    const msg = (messageId: number, out: boolean, editDate: number | null = null) => ({
      peer: olena,
      messageId,
      out,
      date: 1,
      text: "x",
      media: null,
      kind: "text" as const,
      editDate,
    });
    await inner!.events.onMessage(msg(41, true));
    await inner!.events.onMessage(msg(44, true));
    await inner!.events.onMessage(msg(42, true, 5));
    expect(messages).toEqual([44, 42]);

    // Reads by key; a key the core has not taken (its job still being sent) comes again with the next read.
    pending = ["s2:0"];
    await inner!.events.onReadOutbox!("501", 41);
    await inner!.events.onReadOutbox!("501", 43);
    pending = [];
    await inner!.events.onReadOutbox!("501", 43);
    await inner!.events.onReadOutbox!("501", 43);
    expect(reads).toEqual([["s1:0"], ["s1:1", "s2:0"], ["s2:0"]]);

    // Another Telegram account on the number: none of these are its sends.
    await connector.connect({
      accountId: id,
      session: parseStringSession(newSessionText()),
      apiId: 1,
      apiHash: "h",
      timeoutMs: 1000,
      updateState: null,
      knownPeers: [],
      log: createLogger("silent"),
      events: { onMessage: async () => {}, onPeers: () => {}, onLost: () => {} },
    });
    expect(inner!.sameAccount!("2000")).toBe(false);
    expect(sentOf(db)).toEqual([]);
    db.$client.close();
  });
});

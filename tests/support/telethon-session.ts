// Writes a Telethon `.session` SQLite file the way Telethon 1.x does (version 7 schema).
import { Database } from "bun:sqlite";

export interface TelethonSessionSpec {
  dcId: number;
  serverAddress: string;
  port: number;
  authKey: Uint8Array;
  entities?: { id: bigint; hash: bigint; username?: string | null; phone?: string | null; name?: string | null }[];
  updateState?: { pts: number; qts: number; date: number; seq: number };
}

export function writeTelethonSession(file: string, spec: TelethonSessionSpec): void {
  const db = new Database(file, { create: true });
  db.exec(`
    CREATE TABLE version (version integer primary key);
    INSERT INTO version VALUES (7);
    CREATE TABLE sessions (dc_id integer primary key, server_address text, port integer, auth_key blob, takeout_id integer);
    CREATE TABLE entities (id integer primary key, hash integer not null, username text, phone integer, name text, date integer);
    CREATE TABLE sent_files (md5_digest blob, file_size integer, type integer, id integer, hash integer, primary key(md5_digest, file_size, type));
    CREATE TABLE update_state (id integer primary key, pts integer, qts integer, date integer, seq integer);
  `);
  db.query("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL)").run(spec.dcId, spec.serverAddress, spec.port, spec.authKey);
  for (const e of spec.entities ?? []) {
    db.query("INSERT INTO entities VALUES (?, ?, ?, ?, ?, 0)").run(e.id, e.hash, e.username ?? null, e.phone ?? null, e.name ?? null);
  }
  if (spec.updateState) {
    const u = spec.updateState;
    db.query("INSERT INTO update_state VALUES (0, ?, ?, ?, ?)").run(u.pts, u.qts, u.date, u.seq);
  }
  db.close();
}

// Real Telegram's sharp edges that userbots meet in production, as state the handlers consult: file
// references that expire, media kept on another DC (FILE_MIGRATE_n + exported authorizations), frozen
// accounts, first-contact refusals, updates.differenceTooLong. The driver and the server options set them.
import { randomBytes } from "node:crypto";
import { Api } from "telegram";
import { RpcError } from "./tl.ts";
import type { World, WorldSession, WorldUser } from "./world.ts";

export interface FrozenInfo {
  /** Unix seconds. */
  since: number;
  until: number;
  appealUrl: string;
}

/** What a frozen account may still call (reading itself, its sessions and its updates); everything else
 * is 420 FROZEN_METHOD_INVALID — a 420 like a flood wait, but with no wait that ever ends it. */
export const FROZEN_ALLOWED = new Set([
  "help.GetConfig",
  "help.GetNearestDc",
  "help.GetAppConfig",
  "users.GetUsers",
  "users.GetFullUser",
  "updates.GetState",
  "updates.GetDifference",
  "account.GetAuthorizations",
  "auth.LogOut",
]);

/** An exported authorization stays valid this long (Telegram's are short-lived too). */
const EXPORT_TTL_MS = 5 * 60_000;

export class EdgeState {
  /** File references older than this are FILE_REFERENCE_EXPIRED (Infinity: never by age). */
  fileReferenceTtlMs = Infinity;
  /** Bumped by Driver.expireFileReferences(): every reference issued before is expired. */
  fileReferenceGeneration = 0;
  /** Media id → the DC the file is kept on (default: the world's DC). */
  readonly mediaDc = new Map<bigint, number>();
  /** updates.getDifference answers differenceTooLong when the client is more than this many pts behind. */
  differenceTooLongGap = Infinity;
  /** userId → how many of their next getDifference calls answer differenceTooLong. */
  readonly differenceTooLongFor = new Map<number, number>();
  readonly frozen = new Map<number, FrozenInfo>();
  /** userId → the DC their account moved to (USER_MIGRATE_n for their keys on other DCs). */
  readonly userMigrated = new Map<number, number>();
  /** Spam-limited accounts: PEER_FLOOD when they write to someone who has not written to them first. */
  readonly limited = new Set<number>();
  /** Users whose privacy refuses messages from people they have not written to (USER_PRIVACY_RESTRICTED). */
  readonly privacyRestricted = new Set<number>();
  /** userId → users they blocked (writing to them gets USER_IS_BLOCKED). */
  readonly blocked = new Map<number, Set<number>>();
  private readonly exported = new Map<string, { userId: number; dcId: number; expiresAt: number }>();
  /** Media downloads answered FILE_MIGRATE_n / FILE_REFERENCE_EXPIRED (for tests). */
  fileMigrates = 0;
  fileReferencesExpired = 0;
  userMigrates = 0;

  get checksFileReferences(): boolean {
    return this.fileReferenceGeneration > 0 || Number.isFinite(this.fileReferenceTtlMs);
  }

  // ---- file references -------------------------------------------------------------------------------

  /** The reference a client gets now: the record's own 8 bytes · generation · issue time (ms). */
  stamp(base: Buffer): Buffer {
    const out = Buffer.alloc(20);
    base.copy(out, 0, 0, 8);
    out.writeUInt32LE(this.fileReferenceGeneration, 8);
    out.writeBigUInt64LE(BigInt(Date.now()), 12);
    return out;
  }

  /** Throws FILE_REFERENCE_EXPIRED for a reference from an older generation or past its age. */
  checkReference(base: Buffer, ref: Uint8Array | undefined): void {
    if (!this.checksFileReferences) return;
    const r = Buffer.from(ref ?? []);
    const ok =
      r.length === 20 &&
      r.subarray(0, 8).equals(base.subarray(0, 8)) &&
      r.readUInt32LE(8) === this.fileReferenceGeneration &&
      Date.now() - Number(r.readBigUInt64LE(12)) <= this.fileReferenceTtlMs;
    if (!ok) {
      this.fileReferencesExpired++;
      throw new RpcError(400, "FILE_REFERENCE_EXPIRED");
    }
  }

  // ---- media on other DCs ----------------------------------------------------------------------------

  mediaDcOf(world: World, id: bigint): number {
    return this.mediaDc.get(id) ?? world.dcId;
  }

  /** A download asked on a DC that does not keep the file: 303 FILE_MIGRATE_n, n = where it is. */
  checkMediaDc(world: World, id: bigint, session: WorldSession): void {
    const dc = this.mediaDcOf(world, id);
    if (dc !== session.dcId) {
      this.fileMigrates++;
      throw new RpcError(303, `FILE_MIGRATE_${dc}`);
    }
  }

  exportAuthorization(session: WorldSession, dcId: number): Api.auth.ExportedAuthorization {
    if (!Number.isInteger(dcId) || dcId < 1 || dcId > 5 || dcId === session.dcId) throw new RpcError(400, "DC_ID_INVALID");
    const bytes = randomBytes(32);
    this.exported.set(bytes.toString("hex"), { userId: session.userId, dcId, expiresAt: Date.now() + EXPORT_TTL_MS });
    return new Api.auth.ExportedAuthorization({ id: BigInt(session.userId) as unknown as Api.long, bytes });
  }

  /** Signs a fresh key in on another DC with an exported authorization. The key does not join the
   * user's session list (Telegram does not list these either) and gets no pushed updates. */
  importAuthorization(world: World, session: WorldSession, id: bigint, bytes: Buffer): WorldUser {
    const e = this.exported.get(bytes.toString("hex"));
    if (!e || e.expiresAt < Date.now() || BigInt(e.userId) !== id) throw new RpcError(400, "AUTH_BYTES_INVALID");
    if (session.userId !== 0) throw new RpcError(400, "AUTH_BYTES_INVALID");
    this.exported.delete(bytes.toString("hex"));
    session.userId = e.userId;
    session.dcId = e.dcId;
    return world.user(e.userId);
  }

  // ---- accounts --------------------------------------------------------------------------------------

  checkMigrated(session: WorldSession): void {
    const dc = this.userMigrated.get(session.userId);
    if (dc !== undefined && dc !== session.dcId) {
      this.userMigrates++;
      throw new RpcError(303, `USER_MIGRATE_${dc}`);
    }
  }

  checkFrozen(userId: number, method: string): void {
    if (this.frozen.has(userId) && !FROZEN_ALLOWED.has(method)) throw new RpcError(420, "FROZEN_METHOD_INVALID");
  }

  /**
   * help.getAppConfig as Telegram answers it (only the keys the loopback knows): a frozen account's
   * config carries freeze_since_date, freeze_until_date and freeze_appeal_url. `hash` as the client sent
   * it: the same config again is appConfigNotModified.
   */
  appConfig(userId: number, hash: number): Api.help.TypeAppConfig {
    const f = this.frozen.get(userId);
    const values: Api.JsonObjectValue[] = [new Api.JsonObjectValue({ key: "message_length_max", value: new Api.JsonNumber({ value: 4096 }) })];
    if (f) {
      values.push(
        new Api.JsonObjectValue({ key: "freeze_since_date", value: new Api.JsonNumber({ value: f.since }) }),
        new Api.JsonObjectValue({ key: "freeze_until_date", value: new Api.JsonNumber({ value: f.until }) }),
        new Api.JsonObjectValue({ key: "freeze_appeal_url", value: new Api.JsonString({ value: f.appealUrl }) }),
      );
    }
    const current = f ? (f.since % 0x7fffffff) + 2 : 1;
    if (hash === current) return new Api.help.AppConfigNotModified();
    return new Api.help.AppConfig({ hash: current, config: new Api.JsonObject({ value: values }) });
  }

  /**
   * Telegram's refusals when `sender` writes to user `targetId`: blocked by them (USER_IS_BLOCKED), or —
   * when the target has never written to the sender — a spam-limited sender (PEER_FLOOD) or a target whose
   * privacy refuses strangers (USER_PRIVACY_RESTRICTED).
   */
  checkFirstContact(_world: World, sender: WorldUser, targetId: number): void {
    if (targetId === sender.id) return;
    if (this.blocked.get(targetId)?.has(sender.id)) throw new RpcError(400, "USER_IS_BLOCKED");
    if (!this.limited.has(sender.id) && !this.privacyRestricted.has(targetId)) return;
    const dialog = sender.mailbox.dialogs.get(`u${targetId}`) ?? [];
    if (dialog.some((m) => !m.out)) return;
    if (this.limited.has(sender.id)) throw new RpcError(400, "PEER_FLOOD");
    throw new RpcError(403, "USER_PRIVACY_RESTRICTED");
  }

  // ---- updates ---------------------------------------------------------------------------------------

  /** True when this getDifference must be answered differenceTooLong (consumes a driver request). */
  differenceTooLong(userId: number, clientPts: number, serverPts: number): boolean {
    const left = this.differenceTooLongFor.get(userId) ?? 0;
    if (left > 0) {
      if (left === 1) this.differenceTooLongFor.delete(userId);
      else this.differenceTooLongFor.set(userId, left - 1);
      return true;
    }
    return serverPts - clientPts > this.differenceTooLongGap;
  }
}

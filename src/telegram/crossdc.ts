// Downloads from a data centre other than the account's own (media uploaded by users of other DCs
// lives there). GramJS's own machinery for this (_borrowExportedSender/_connectSender) retries
// forever — even after the client is destroyed, generating a fresh auth key on every attempt — so
// this module does the same job with bounded steps: one MTProtoSender per DC, authorised once by
// exporting our authorisation (auth.exportAuthorization → auth.importAuthorization), released after
// a short idle time, closed with the connection. Its auth key is kept for the connection's lifetime,
// so a DC gets at most one new key per connection.
import { Api, type TelegramClient } from "telegram";
import type { AuthKey } from "telegram/crypto/AuthKey";
import { ConnectionTCPFull } from "telegram/network/connection/TCPFull";
import type { ProxyInterface } from "telegram/network/connection/TCPMTProxy";
import { MTProtoSender } from "telegram/network";
import { LAYER } from "telegram/tl/AllTLObjects";
import { TelegramFailure } from "../domain/telegram-port.ts";
import type { Logger } from "../log.ts";
import { toFailure } from "./errors.ts";
import type { SenderInternals } from "./gram.ts";
import { RoutedGramLogger } from "./gramlog.ts";
import { withTimeout } from "./timing.ts";

const IDLE_RELEASE_MS = 60_000;

interface DcEntry {
  /** The sender currently open to this DC (null after idle release or a drop). */
  sender: Promise<MTProtoSender> | null;
  /** Kept across releases: this DC's key for our account, and whether it is authorised. */
  authKey: AuthKey | undefined;
  authorized: boolean;
  idle: ReturnType<typeof setTimeout> | null;
}

export interface CrossDcDeps {
  client: TelegramClient;
  log: Logger;
  /** The connection class every socket uses (endpoint override or GramJS's default TCP full). */
  connection: typeof ConnectionTCPFull | undefined;
  /** The number's proxy (GramJS form), for every file connection too; undefined: none. */
  proxy: ProxyInterface | undefined;
  /** RPC on the main connection (errors mapped). */
  call<R>(request: Api.AnyRequest): Promise<R>;
  /** Races the main connection's loss. */
  race<T>(p: Promise<T>): Promise<T>;
  timeoutMs: number;
}

type ClientInit = { _initRequest: Api.InitConnection; networkSocket: unknown };

export class CrossDcDownloader {
  private readonly dcs = new Map<number, DcEntry>();
  private config: Promise<Api.Config> | null = null;
  private closed = false;
  /** Every sender this downloader created and has not shut yet (also those still connecting). */
  private readonly live = new Set<MTProtoSender>();
  private readonly aborted: Promise<never>;
  private abort!: (e: Error) => void;

  constructor(private readonly d: CrossDcDeps) {
    this.aborted = new Promise<never>((_, reject) => (this.abort = reject));
    this.aborted.catch(() => {});
  }

  /** One upload.getFile on DC `dcId`. */
  async getFile(dcId: number, request: Api.upload.GetFile): Promise<Api.upload.TypeFile> {
    const entry = this.entry(dcId);
    const sender = await this.d.race((entry.sender ??= this.open(dcId, entry)));
    this.touch(dcId, entry);
    try {
      return (await this.d.race(Promise.resolve(sender.send(request)))) as Api.upload.TypeFile;
    } catch (e) {
      throw toFailure(e);
    }
  }

  /** Shuts every file connection at once, including one still being set up. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort(new TelegramFailure("network", "connection closed"));
    for (const e of this.dcs.values()) if (e.idle) clearTimeout(e.idle);
    this.dcs.clear();
    await Promise.all([...this.live].map((s) => this.shut(s)));
  }

  private entry(dcId: number): DcEntry {
    if (this.closed) throw new TelegramFailure("network", "connection closed");
    let e = this.dcs.get(dcId);
    if (!e) this.dcs.set(dcId, (e = { sender: null, authKey: undefined, authorized: false, idle: null }));
    return e;
  }

  private touch(dcId: number, e: DcEntry): void {
    if (e.idle) clearTimeout(e.idle);
    e.idle = setTimeout(() => {
      e.idle = null;
      const s = e.sender;
      e.sender = null;
      void s?.then(
        (x) => this.shut(x),
        () => {},
      );
      this.d.log.debug("telegram: released idle file connection", { dcId });
    }, IDLE_RELEASE_MS);
    e.idle.unref?.();
  }

  private async address(dcId: number): Promise<{ ip: string; port: number }> {
    this.config ??= this.d.call<Api.Config>(new Api.help.GetConfig());
    let cfg: Api.Config;
    try {
      cfg = await this.config;
    } catch (e) {
      this.config = null;
      throw e;
    }
    const options = cfg.dcOptions.filter((o) => o.id === dcId && !o.ipv6 && !o.cdn && !o.tcpoOnly);
    const o = options.find((x) => !x.mediaOnly) ?? options[0];
    if (!o) throw new TelegramFailure("error", `DC_UNKNOWN_${dcId}`);
    return { ip: o.ipAddress, port: o.port };
  }

  private async open(dcId: number, entry: DcEntry): Promise<MTProtoSender> {
    try {
      return await this.connect(dcId, entry);
    } catch (e) {
      entry.sender = null;
      throw toFailure(e);
    }
  }

  private async connect(dcId: number, entry: DcEntry): Promise<MTProtoSender> {
    const { ip, port } = await this.address(dcId);
    const client = this.d.client;
    const init = client as unknown as ClientInit;
    const gramLog = new RoutedGramLogger(this.d.log);
    const sender = new MTProtoSender(entry.authKey, {
      logger: gramLog,
      dcId,
      retries: 1,
      reconnectRetries: 0,
      delay: 0,
      autoReconnect: false,
      connectTimeout: null,
      authKeyCallback: null,
      isMainSender: false,
      client,
      securityChecks: true,
      _exportedSenderPromises: new Map(),
    });
    this.live.add(sender);
    const internals = sender as unknown as SenderInternals;
    // A dropped file connection is not reconnected in place; the next download opens a new one.
    internals.reconnect = () => {
      if (this.dcs.get(dcId) === entry && entry.sender) {
        entry.sender = null;
        void this.shut(sender);
      }
    };
    const Conn = this.d.connection ?? ConnectionTCPFull;
    const step = <T>(p: Promise<T>, what: string) =>
      withTimeout(Promise.race([p, this.aborted]), this.d.timeoutMs, () => new TelegramFailure("timeout", `${what} on DC ${dcId} took longer than ${this.d.timeoutMs} ms`));
    try {
      if (this.closed) throw new TelegramFailure("network", "connection closed");
      const ok = await step(
        sender.connect(new Conn({ ip, port, dcId, loggers: gramLog, proxy: this.d.proxy, socket: init.networkSocket as never, testServers: false }), false),
        "connecting",
      );
      if (!ok) throw new TelegramFailure("network", `cannot connect to DC ${dcId}`);
      entry.authKey = sender.authKey;
      const base = init._initRequest;
      const initConnection = (query: Api.AnyRequest) =>
        new Api.InvokeWithLayer({
          layer: LAYER,
          query: new Api.InitConnection({
            apiId: base.apiId,
            deviceModel: base.deviceModel,
            systemVersion: base.systemVersion,
            appVersion: base.appVersion,
            systemLangCode: base.systemLangCode,
            langPack: base.langPack,
            langCode: base.langCode,
            query,
          }),
        });
      if (!entry.authorized) {
        const auth = await this.d.call<Api.auth.ExportedAuthorization>(new Api.auth.ExportAuthorization({ dcId }));
        await step(Promise.resolve(sender.send(initConnection(new Api.auth.ImportAuthorization({ id: auth.id, bytes: auth.bytes })))), "importing the authorization");
        entry.authorized = true;
      } else {
        await step(Promise.resolve(sender.send(initConnection(new Api.help.GetConfig()))), "initializing");
      }
      if (this.closed) throw new TelegramFailure("network", "connection closed");
      return sender;
    } catch (e) {
      await this.shut(sender);
      throw e;
    }
  }

  private async shut(sender: MTProtoSender): Promise<void> {
    this.live.delete(sender);
    await shutSender(sender);
  }
}

async function shutSender(sender: MTProtoSender): Promise<void> {
  const s = sender as unknown as SenderInternals & { _reconnect: () => Promise<void> };
  s.reconnect = () => {};
  s._reconnect = async () => {};
  try {
    for (const state of s._pendingState.values()) state.reject(new TelegramFailure("network", "file connection closed"));
    s._pendingState.clear();
  } catch {
    // best effort
  }
  await sender.disconnect().catch(() => {});
  try {
    s._connection?.socket?.client?.destroy();
  } catch {
    // already gone
  }
}

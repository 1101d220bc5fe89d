// Update state (pts/qts/date) and catch-up for one account. GramJS tracks none of this.
//
// Every pushed update, every getDifference and the pts of our own sends go through one promise
// queue, strictly in order. A message update is handed to `events.onMessage` and awaited (it resolves
// once the message is durably stored) before the local pts moves past it and `onUpdateState` reports
// the new state — so a saved state never runs ahead of what was stored, and a restart resumes with
// getDifference from there. Duplicates (an update that getDifference already delivered) are dropped
// by the pts check; the domain still dedups by (account, peer, message id).
//
// Decisions:
// - Only the common pts sequence is checked (private chats live there); seq of Updates containers is
//   not checked for gaps, as updates without pts carry nothing this bridge needs.
// - On a pts gap getDifference runs at once (no 0.5 s grace period): its result includes the missing
//   updates and the one that revealed the gap; late arrivals are then duplicates.
// - An UpdateShortMessage from a user whose access hash we do not know is fetched via getDifference,
//   which returns the message together with the sender's user object (so the domain gets the hash).
// - Messages this connection sent itself are never passed to onMessage (the domain has them from
//   sendText/sendFile); only their pts is applied. While a send to a peer is in flight, an outgoing
//   message for that peer waits for the send to finish so it can be recognised.
// - updates.differenceTooLong: the missed stretch is rebuilt from the chats' histories (history.ts)
//   before pts jumps to the server's; if that fails the state stays and the whole catch-up is retried.
// - The queue is bounded: past MAX_QUEUED pending items, pushed updates are dropped and one
//   getDifference is queued instead (it fetches them from the server).
import { Api } from "telegram";
import { TelegramFailure, type ChatMessage, type PeerInfo, type TelegramEvents, type UpdateState } from "../domain/telegram-port.ts";
import type { Logger } from "../log.ts";
import { rebuildFromHistory, type HistoryLimits } from "./history.ts";
import { shortToChatMessage, toChatMessage } from "./messages.ts";
import { bareUser, type PeerBook } from "./peers.ts";

const MAX_QUEUED = 256;
const OWN_SENT_MEMORY = 64;
/** Safety stop for a server that keeps answering differenceSlice / differenceTooLong forever. */
const MAX_DIFFERENCE_ROUNDS = 10_000;

type CommonPtsUpdate =
  | Api.UpdateNewMessage
  | Api.UpdateDeleteMessages
  | Api.UpdateReadHistoryInbox
  | Api.UpdateReadHistoryOutbox
  | Api.UpdateWebPage
  | Api.UpdateReadMessagesContents
  | Api.UpdateEditMessage
  | Api.UpdateFolderPeers
  | Api.UpdatePinnedMessages;

function isCommonPts(u: Api.TypeUpdate): u is CommonPtsUpdate {
  return (
    u instanceof Api.UpdateNewMessage ||
    u instanceof Api.UpdateEditMessage ||
    u instanceof Api.UpdateReadHistoryOutbox ||
    u instanceof Api.UpdateReadHistoryInbox ||
    u instanceof Api.UpdateDeleteMessages ||
    u instanceof Api.UpdateReadMessagesContents ||
    u instanceof Api.UpdateWebPage ||
    u instanceof Api.UpdateFolderPeers ||
    u instanceof Api.UpdatePinnedMessages
  );
}

export interface EngineDeps {
  /** Telegram calls (already racing the connection's loss, errors mapped to TelegramFailure). */
  getState(): Promise<Api.updates.State>;
  getDifference(state: UpdateState): Promise<Api.updates.TypeDifference>;
  /** Any other call (messages.getDialogs / getHistory when a stretch is rebuilt from history). */
  call<R>(request: Api.AnyRequest): Promise<R>;
  /** Overrides of the history rebuild's bounds (tests). */
  historyLimits?: Partial<HistoryLimits>;
  events: TelegramEvents;
  peers: PeerBook;
  /** The account's own user id (not reported through onPeers). */
  selfId(): string | null;
  log: Logger;
  /** The engine cannot go on (a handler or getDifference failed): the connection must be dropped. */
  fail(failure: TelegramFailure): void;
  /** users.getUsers for a known peer (after updateUser: the profile changed, fetch it again); without it updateUser is ignored. */
  getUser?(peer: PeerInfo): Promise<PeerInfo | null>;
}

type Item =
  | { t: "updates"; u: Api.TypeUpdates }
  | { t: "own"; pts: number; ptsCount: number; date: number }
  | { t: "difference"; why: string }
  | { t: "check"; server: { pts: number } };

export class UpdateEngine {
  private state: UpdateState | null = null;
  private lastEmitted = "";
  private tail: Promise<void>;
  private openGate!: () => void;
  private queued = 0;
  private differenceQueued = false;
  private stopped = false;
  private readonly ownSent: number[] = [];
  private readonly inflight = new Map<string, Set<Promise<unknown>>>();

  constructor(private readonly deps: EngineDeps) {
    // Nothing runs before start(): updates pushed meanwhile wait behind the gate.
    this.tail = new Promise<void>((resolve) => (this.openGate = resolve));
  }

  get current(): UpdateState | null {
    return this.state ? { ...this.state } : null;
  }

  /** A pushed `Updates` object from the server. */
  push(u: Api.TypeUpdates): void {
    this.enqueue({ t: "updates", u });
  }

  /**
   * Establishes the update state: from `saved` via getDifference (delivering everything missed),
   * or, with no saved state, from updates.getState. Resolves when that is done; pushed updates
   * queued meanwhile are processed after it.
   */
  async start(saved: UpdateState | null): Promise<void> {
    if (saved) {
      this.state = { pts: saved.pts, qts: saved.qts, date: saved.date };
      await this.difference("catch-up");
    } else {
      const s = await this.deps.getState();
      this.state = { pts: s.pts, qts: s.qts, date: s.date };
      this.emit();
    }
    this.openGate();
  }

  /** Compares the server's state (from a periodic updates.getState) with ours; fetches what is missing. */
  check(server: { pts: number }): void {
    this.enqueue({ t: "check", server });
  }

  /**
   * Registers a send in flight to `peerUserId`: outgoing messages for that peer wait for it, so that
   * the message it creates is recognised as ours.
   */
  trackSend<T>(peerUserId: string, p: Promise<T>): Promise<T> {
    let set = this.inflight.get(peerUserId);
    if (!set) this.inflight.set(peerUserId, (set = new Set()));
    const entry = p.then(
      () => undefined,
      () => undefined,
    );
    set.add(entry);
    void entry.then(() => {
      set.delete(entry);
      if (set.size === 0 && this.inflight.get(peerUserId) === set) this.inflight.delete(peerUserId);
    });
    return p;
  }

  /**
   * The result of our own messages.sendMessage / sendMedia: remembers the new message as ours and
   * applies its pts in order. Returns the message id (null if the result names none).
   */
  acceptOwnResult(result: Api.TypeUpdates, randomId: string): number | null {
    if (result instanceof Api.UpdateShortSentMessage) {
      this.rememberOwn(result.id);
      this.enqueue({ t: "own", pts: result.pts, ptsCount: result.ptsCount, date: result.date }, true);
      return result.id;
    }
    if (result instanceof Api.Updates || result instanceof Api.UpdatesCombined || result instanceof Api.UpdateShort) {
      const inner = result instanceof Api.UpdateShort ? [result.update] : result.updates;
      let id: number | null = null;
      for (const u of inner) {
        if (u instanceof Api.UpdateMessageID && u.randomId?.toString() === randomId) id = u.id;
      }
      if (id === null) {
        // No UpdateMessageID: take the (single) new private message of the result.
        const news = inner.filter((u): u is Api.UpdateNewMessage => u instanceof Api.UpdateNewMessage);
        if (news.length === 1) id = news[0]!.message.id;
      }
      if (id !== null) this.rememberOwn(id);
      this.enqueue({ t: "updates", u: result }, true);
      return id;
    }
    return null;
  }

  /** Stops processing: nothing more is delivered or reported (a handler already running finishes). */
  stop(): void {
    this.stopped = true;
    this.openGate();
  }

  /** Resolves when everything queued so far has been processed (tests, orderly shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }

  // ── queue ────────────────────────────────────────────────────────────────────────────────────

  private enqueue(item: Item, force = false): void {
    if (this.stopped) return;
    if (!force && item.t === "updates" && this.queued >= MAX_QUEUED) {
      if (!this.differenceQueued) {
        this.deps.log.warn("telegram update queue full; fetching the rest with getDifference", { queued: this.queued });
        this.enqueue({ t: "difference", why: "queue overflow" }, true);
      }
      return;
    }
    if (item.t === "difference") {
      if (this.differenceQueued) return;
      this.differenceQueued = true;
    }
    this.queued++;
    this.tail = this.tail.then(async () => {
      this.queued--;
      if (item.t === "difference") this.differenceQueued = false;
      if (this.stopped) return;
      try {
        await this.run(item);
        this.emit();
      } catch (e) {
        if (this.stopped) return;
        const failure = e instanceof TelegramFailure ? e : new TelegramFailure("error", `update handling failed: ${(e as Error)?.message ?? e}`);
        this.deps.log.error("telegram update handling failed; dropping the connection", { error: failure.message });
        this.stopped = true;
        this.deps.fail(failure);
      }
    });
  }

  private async run(item: Item): Promise<void> {
    switch (item.t) {
      case "updates":
        return this.handleUpdates(item.u);
      case "own":
        return this.handlePts(item.pts, item.ptsCount, async () => {}, item.date);
      case "difference":
        return this.difference(item.why);
      case "check":
        if (this.state && item.server.pts > this.state.pts) return this.difference("periodic state check");
    }
  }

  private async handleUpdates(u: Api.TypeUpdates): Promise<void> {
    if (u instanceof Api.UpdatesTooLong) return this.difference("updatesTooLong");
    if (u instanceof Api.UpdateShortMessage) return this.handleShortMessage(u);
    if (u instanceof Api.UpdateShortChatMessage || u instanceof Api.UpdateShortSentMessage) {
      return this.handlePts(u.pts, u.ptsCount, async () => {}, u.date);
    }
    if (u instanceof Api.UpdateShort) return this.handleOne(u.update, u.date);
    if (u instanceof Api.Updates || u instanceof Api.UpdatesCombined) {
      this.reportPeers(u.users);
      for (const inner of u.updates) {
        if (this.stopped) return;
        await this.handleOne(inner, u.date);
      }
    }
  }

  private async handleShortMessage(u: Api.UpdateShortMessage): Promise<void> {
    const userId = u.userId.toString();
    const known = this.deps.peers.get(userId);
    if (!known?.accessHash && this.state && this.state.pts + u.ptsCount === u.pts) {
      // In order, but we do not know the sender's access hash: getDifference returns the same message
      // with the user object attached.
      await this.difference("short message from an unknown user");
      if (this.state.pts + u.ptsCount !== u.pts) return; // delivered by getDifference
    }
    await this.handlePts(u.pts, u.ptsCount, () => this.deliverNew(shortToChatMessage(u, this.deps.peers.get(userId) ?? bareUser(userId))), u.date);
  }

  private async handleOne(u: Api.TypeUpdate, date: number): Promise<void> {
    if (isCommonPts(u)) return this.handlePts(u.pts, u.ptsCount, () => this.apply(u), date);
    if (u instanceof Api.UpdateUserName || u instanceof Api.UpdateUser) return this.profileChanged(u);
    const qts = (u as { qts?: unknown }).qts;
    if (typeof qts === "number" && this.state && qts > this.state.qts) this.state.qts = qts;
  }

  /** Applies an update with pts in order: skips what is already applied, fills gaps via getDifference. */
  private async handlePts(pts: number, ptsCount: number, apply: () => Promise<void>, date: number): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (s.pts + ptsCount > pts) return; // already applied (duplicate or covered by getDifference)
    if (s.pts + ptsCount < pts) {
      this.deps.log.debug("telegram pts gap", { local: s.pts, pts, ptsCount });
      return this.difference("pts gap");
    }
    await apply();
    if (this.stopped) return;
    s.pts = pts;
    if (date > s.date) s.date = date;
    this.emit();
  }

  /** The content of one update (from a push or from getDifference's other_updates). */
  private async apply(u: Api.TypeUpdate): Promise<void> {
    if (u instanceof Api.UpdateNewMessage) return this.deliverMessage(u.message, false);
    if (u instanceof Api.UpdateEditMessage) return this.deliverMessage(u.message, true);
    if (u instanceof Api.UpdateReadHistoryOutbox && u.peer instanceof Api.PeerUser) {
      return this.deps.events.onReadOutbox?.(u.peer.userId.toString(), u.maxId);
    }
  }

  private async deliverMessage(m: Api.TypeMessage, edit: boolean): Promise<void> {
    if (!(m instanceof Api.Message) || !(m.peerId instanceof Api.PeerUser)) return;
    const userId = m.peerId.userId.toString();
    const msg = toChatMessage(m, this.deps.peers.get(userId) ?? bareUser(userId));
    if (!msg) return;
    if (edit) {
      // Reactions and other silent changes also arrive as edits; only real edits (with edit_date) are passed on.
      if (msg.editDate === null || m.editHide) return;
      return this.deps.events.onMessage(msg);
    }
    return this.deliverNew(msg);
  }

  private async deliverNew(msg: ChatMessage): Promise<void> {
    if (msg.out) {
      const pending = this.inflight.get(msg.peer.userId);
      if (pending?.size) await Promise.all([...pending]);
      if (this.ownSent.includes(msg.messageId)) return;
    }
    if (this.stopped) return;
    await this.deps.events.onMessage(msg);
  }

  // ── getDifference ───────────────────────────────────────────────────────────────────────────

  private async difference(why: string): Promise<void> {
    const s = this.state;
    if (!s) return;
    this.deps.log.debug("telegram getDifference", { why, pts: s.pts, qts: s.qts, date: s.date });
    for (let round = 0; round < MAX_DIFFERENCE_ROUNDS && !this.stopped; round++) {
      const d = await this.deps.getDifference({ ...s });
      if (this.stopped) return;
      if (d instanceof Api.updates.DifferenceEmpty) {
        if (d.date > s.date) s.date = d.date;
        this.emit();
        return;
      }
      if (d instanceof Api.updates.DifferenceTooLong) {
        // Telegram will not list what happened between s.pts and d.pts: the stretch is rebuilt from
        // the chats' histories (history.ts). Only once that is done does pts jump; a failure (a long
        // flood wait, a lost connection) leaves the saved state where it was, to be tried again.
        this.deps.log.warn("telegram difference too long; rebuilding the stretch from chat histories", { from: s.pts, to: d.pts, date: s.date });
        const r = await this.rebuild(s.date);
        if (this.stopped) return;
        this.deps.log.info("telegram stretch rebuilt from chat histories", { ...r });
        s.pts = d.pts;
        this.emit();
        continue;
      }
      this.reportPeers(d.users);
      const messages = [...d.newMessages].sort((a, b) => a.id - b.id);
      for (const m of messages) {
        if (this.stopped) return;
        await this.deliverMessage(m, false);
      }
      for (const u of d.otherUpdates) {
        if (this.stopped) return;
        if (u instanceof Api.UpdateNewMessage || u instanceof Api.UpdateEditMessage || u instanceof Api.UpdateReadHistoryOutbox) {
          await this.apply(u);
        }
      }
      if (this.stopped) return;
      const next = d instanceof Api.updates.Difference ? d.state : d.intermediateState;
      s.pts = next.pts;
      s.qts = next.qts;
      s.date = next.date;
      this.emit();
      if (d instanceof Api.updates.Difference) return;
    }
  }

  private rebuild(stateDate: number) {
    return rebuildFromHistory(
      {
        call: (r) => this.deps.call(r),
        learn: (users) => this.reportPeers(users),
        deliver: (m, edited) => this.deliverRebuilt(m, edited),
        stopped: () => this.stopped,
        log: this.deps.log,
        limits: this.deps.historyLimits,
      },
      stateDate,
    );
  }

  /** A message from a rebuilt stretch: as new (its current text), then as an edit if it was edited in the stretch. */
  private async deliverRebuilt(m: Api.Message, edited: boolean): Promise<void> {
    if (!(m.peerId instanceof Api.PeerUser)) return;
    const userId = m.peerId.userId.toString();
    const msg = toChatMessage(m, this.deps.peers.get(userId) ?? bareUser(userId));
    if (!msg) return;
    await this.deliverNew({ ...msg, editDate: null });
    if (edited && msg.editDate !== null && !this.stopped) await this.deps.events.onMessage(msg);
  }

  // ── contacts ─────────────────────────────────────────────────────────────────────────────────

  /**
   * updateUserName carries the new names; updateUser only says "fetch this user again" (a new photo,
   * among others). Users this connection has no access hash for are not anybody's chat here: skipped.
   * A failed refetch is logged and dropped: the next message of theirs carries the card anyway.
   */
  private async profileChanged(u: Api.UpdateUserName | Api.UpdateUser): Promise<void> {
    const report = this.deps.events.onContactChanged;
    const userId = u.userId.toString();
    const known = this.deps.peers.get(userId);
    if (!report || !known?.accessHash || userId === this.deps.selfId()) return;
    let now: PeerInfo;
    if (u instanceof Api.UpdateUserName) {
      const username = u.usernames.find((n) => n.active)?.username ?? null;
      now = { ...known, firstName: u.firstName || null, lastName: u.lastName || null, username };
    } else {
      if (!this.deps.getUser) return;
      let fetched: PeerInfo | null;
      try {
        fetched = await this.deps.getUser(known);
      } catch (e) {
        this.deps.log.debug("changed user not fetched", { peer: userId, error: (e as Error)?.message ?? String(e) });
        return;
      }
      if (!fetched) return;
      now = { ...fetched, accessHash: fetched.accessHash ?? known.accessHash };
    }
    this.deps.peers.put(now);
    if (this.stopped) return;
    await report(now, u instanceof Api.UpdateUser);
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  private reportPeers(users: Api.TypeUser[]): void {
    if (!users.length || this.stopped) return;
    const self = this.deps.selfId();
    const changed = this.deps.peers.learn(users).filter((p) => p.userId !== self);
    if (changed.length) this.deps.events.onPeers(changed);
  }

  private rememberOwn(id: number): void {
    this.ownSent.push(id);
    if (this.ownSent.length > OWN_SENT_MEMORY) this.ownSent.shift();
  }

  /**
   * Reports the state — once the queue has drained: during a burst only its end is reported (one
   * write instead of one per update). A state reported later is never ahead of what was stored.
   */
  private emit(): void {
    if (this.stopped || !this.state || this.queued > 0) return;
    const key = `${this.state.pts}/${this.state.qts}/${this.state.date}`;
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    this.deps.events.onUpdateState?.({ ...this.state });
  }
}

// Rebuilding a stretch that Telegram no longer lists as updates (updates.differenceTooLong): the
// private chats with activity since the saved state's date are found with messages.getDialogs, their
// messages since then are read with messages.getHistory and handed on oldest first, chat by chat,
// as if they had arrived as updates.
//
// Decisions:
// - Bounded (HISTORY_LIMITS): a rebuild after a long outage must not turn into thousands of calls.
//   What falls outside (older than maxAgeDays, chats past maxChats, the oldest messages of a chat past
//   maxMessagesPerChat) is logged and left out.
// - Duplicates: the window starts marginSeconds before the saved date, so messages delivered just
//   before the gap are offered again; the domain stores a message once per (number, peer, message id)
//   and recognises its own sends, so they go nowhere. Within one rebuild every message is offered once.
// - Paced: a pause every `pauseEvery` calls. A FLOOD_WAIT up to maxFloodWaitSeconds is waited out and
//   the call repeated; a longer one is thrown (the connection drops as flood_wait, the saved state has
//   not moved, and the rebuild runs again after the wait).
// - Edits: a message is offered as new (its current text); one edited inside the window is offered
//   as an edit too. Edits of messages older than the window are not rebuilt.
// - Only the main chat list is read (archived chats are not) and only private chats with people.
import { Api } from "telegram";
import { TelegramFailure } from "../domain/telegram-port.ts";
import type { Logger } from "../log.ts";
import { toLong } from "./gram.ts";

export interface HistoryLimits {
  /** Private chats rebuilt at most (the most recently active first). */
  maxChats: number;
  /** Dialogs of any kind looked at while looking for them (groups count too). */
  maxDialogs: number;
  /** Messages per chat at most (the newest are kept). */
  maxMessagesPerChat: number;
  /** Nothing older than this is rebuilt, however old the saved state is. */
  maxAgeDays: number;
  /** How far before the saved state's date the window starts (clock slop; repeats are deduplicated). */
  marginSeconds: number;
  /** A pause of pauseMs after every this many calls: bulk history reads are what draws FLOOD_WAITs. */
  pauseEvery: number;
  pauseMs: number;
  /** Longest FLOOD_WAIT waited out inside the rebuild; a longer one ends it. */
  maxFloodWaitSeconds: number;
  /** FLOOD_WAITs waited out for one call before giving up on the rebuild. */
  maxFloodWaitsPerCall: number;
}

export const HISTORY_LIMITS: Readonly<HistoryLimits> = {
  maxChats: 200,
  maxDialogs: 1000,
  maxMessagesPerChat: 500,
  maxAgeDays: 7,
  marginSeconds: 300,
  pauseEvery: 20,
  pauseMs: 1000,
  maxFloodWaitSeconds: 30,
  maxFloodWaitsPerCall: 3,
};

/** messages.getDialogs / getHistory page size (Telegram's maximum). */
const PAGE = 100;

export interface HistoryDeps {
  /** A Telegram call (errors already mapped to TelegramFailure). */
  call<R>(request: Api.AnyRequest): Promise<R>;
  /** Users seen in the answers (access hashes, names for the contact card). */
  learn(users: Api.TypeUser[]): void;
  /** Hands one message on; `edited`: it was also edited inside the window. Resolves once stored. */
  deliver(message: Api.Message, edited: boolean): Promise<void>;
  /** The connection was stopped: end without doing more. */
  stopped(): boolean;
  log: Logger;
  limits?: Partial<HistoryLimits>;
  sleep?(ms: number): Promise<void>;
  /** Unix seconds (tests). */
  now?(): number;
}

export interface RebuildResult {
  /** The window's start (unix seconds). */
  since: number;
  chats: number;
  messages: number;
  /** Calls made (including repeats after a flood wait). */
  calls: number;
  /** Something was left out by the bounds. */
  truncated: boolean;
}

interface Chat {
  userId: string;
  peer: Api.InputPeerUser;
}

/**
 * Rebuilds the stretch since `stateDate` (the saved update state's date). Resolves when every message
 * found was delivered (or the connection stopped); rejects on a long flood wait or a failed call,
 * in which case the caller must not move its update state.
 */
export async function rebuildFromHistory(deps: HistoryDeps, stateDate: number): Promise<RebuildResult> {
  const lim: HistoryLimits = { ...HISTORY_LIMITS, ...deps.limits };
  const sleep = deps.sleep ?? ((ms: number) => Bun.sleep(ms));
  const now = deps.now?.() ?? Math.floor(Date.now() / 1000);
  const since = Math.max(stateDate - lim.marginSeconds, now - lim.maxAgeDays * 86_400);
  const result: RebuildResult = { since, chats: 0, messages: 0, calls: 0, truncated: stateDate - lim.marginSeconds < since };

  const call = async <R>(request: Api.AnyRequest): Promise<R> => {
    if (result.calls > 0 && result.calls % lim.pauseEvery === 0) await sleep(lim.pauseMs);
    for (let waits = 0; ; waits++) {
      result.calls++;
      try {
        return await deps.call<R>(request);
      } catch (e) {
        const seconds = e instanceof TelegramFailure && e.kind === "flood_wait" ? e.floodSeconds : undefined;
        if (seconds === undefined || seconds > lim.maxFloodWaitSeconds || waits >= lim.maxFloodWaitsPerCall || deps.stopped()) {
          if (seconds !== undefined) deps.log.warn("history rebuild stopped by a flood wait; it runs again after it", { seconds, method: request.className });
          throw e;
        }
        deps.log.info("history rebuild waits out a flood wait", { seconds, method: request.className });
        await sleep(seconds * 1000);
      }
    }
  };

  const chats = await activeChats(deps, call, lim, since, result);
  const seen = new Set<number>();
  for (const chat of chats) {
    if (deps.stopped()) return result;
    const messages = await chatMessages(deps, call, lim, since, chat, result);
    for (const m of messages) {
      if (deps.stopped()) return result;
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      await deps.deliver(m, !!m.editDate && m.editDate >= since && !m.editHide);
      result.messages++;
    }
    result.chats++;
  }
  return result;
}

type Call = <R>(request: Api.AnyRequest) => Promise<R>;

/** The private chats whose last message is not older than `since`, most recently active first. */
async function activeChats(deps: HistoryDeps, call: Call, lim: HistoryLimits, since: number, result: RebuildResult): Promise<Chat[]> {
  const chats: Chat[] = [];
  const ids = new Set<string>();
  let offsetDate = 0;
  let offsetId = 0;
  let offsetPeer: Api.TypeInputPeer = new Api.InputPeerEmpty();
  let scanned = 0;
  while (!deps.stopped()) {
    const res = await call<Api.messages.TypeDialogs>(new Api.messages.GetDialogs({ offsetDate, offsetId, offsetPeer, limit: PAGE, hash: toLong("0") }));
    if (res instanceof Api.messages.DialogsNotModified || !res.dialogs.length) break;
    deps.learn(res.users);
    const users = new Map(res.users.map((u) => [u.id.toString(), u]));
    const tops = new Map<string, Api.TypeMessage>();
    for (const m of res.messages) if (m.peerId) tops.set(`${peerKey(m.peerId)}:${m.id}`, m);
    let older = false;
    for (const d of res.dialogs) {
      if (!(d instanceof Api.Dialog)) continue;
      const top = tops.get(`${peerKey(d.peer)}:${d.topMessage}`);
      const date = top && "date" in top ? top.date : 0;
      if (date < since) {
        // Dialogs come newest first, except pinned ones, which lead regardless of date.
        if (!d.pinned) older = true;
        continue;
      }
      if (!(d.peer instanceof Api.PeerUser)) continue;
      const user = users.get(d.peer.userId.toString());
      if (!(user instanceof Api.User) || user.self || user.bot || user.deleted || user.min || !user.accessHash) continue;
      const userId = user.id.toString();
      if (ids.has(userId)) continue;
      if (chats.length >= lim.maxChats) {
        result.truncated = true;
        deps.log.warn("history rebuild: more active chats than it rebuilds; the rest are skipped", { maxChats: lim.maxChats });
        return chats;
      }
      ids.add(userId);
      chats.push({ userId, peer: new Api.InputPeerUser({ userId: user.id, accessHash: user.accessHash }) });
    }
    scanned += res.dialogs.length;
    if (older || res instanceof Api.messages.Dialogs) break;
    if (scanned >= lim.maxDialogs) {
      result.truncated = true;
      deps.log.warn("history rebuild: looked at the most dialogs it reads; the rest are skipped", { maxDialogs: lim.maxDialogs });
      break;
    }
    const last = res.dialogs[res.dialogs.length - 1]!;
    const lastTop = tops.get(`${peerKey(last.peer)}:${last instanceof Api.Dialog ? last.topMessage : 0}`);
    offsetDate = lastTop && "date" in lastTop ? lastTop.date : 0;
    offsetId = last instanceof Api.Dialog ? last.topMessage : 0;
    offsetPeer = inputPeerOf(last.peer, res.users, res.chats);
  }
  return chats;
}

/** One chat's messages not older than `since`, oldest first (at most maxMessagesPerChat, the newest). */
async function chatMessages(deps: HistoryDeps, call: Call, lim: HistoryLimits, since: number, chat: Chat, result: RebuildResult): Promise<Api.Message[]> {
  const out: Api.Message[] = [];
  let offsetId = 0;
  while (!deps.stopped()) {
    if (out.length >= lim.maxMessagesPerChat) {
      result.truncated = true;
      deps.log.warn("history rebuild: a chat had more messages in the stretch than it rebuilds; the oldest are skipped", {
        peer: chat.userId,
        maxMessagesPerChat: lim.maxMessagesPerChat,
      });
      break;
    }
    const limit = Math.min(PAGE, lim.maxMessagesPerChat - out.length);
    const res = await call<Api.messages.TypeMessages>(
      new Api.messages.GetHistory({ peer: chat.peer, offsetId, offsetDate: 0, addOffset: 0, limit, maxId: 0, minId: 0, hash: toLong("0") }),
    );
    if (res instanceof Api.messages.MessagesNotModified || !res.messages.length) break;
    deps.learn(res.users);
    let older = false;
    let lowest = offsetId;
    for (const m of res.messages) {
      if (lowest === 0 || m.id < lowest) lowest = m.id;
      if (!(m instanceof Api.Message)) continue;
      if (m.date < since) {
        older = true;
        continue;
      }
      out.push(m);
    }
    if (older || res instanceof Api.messages.Messages || lowest === offsetId) break;
    offsetId = lowest;
  }
  return out.sort((a, b) => a.id - b.id);
}

function peerKey(p: Api.TypePeer): string {
  if (p instanceof Api.PeerUser) return `u${p.userId}`;
  if (p instanceof Api.PeerChat) return `c${p.chatId}`;
  return `ch${(p as Api.PeerChannel).channelId}`;
}

/** The input peer of a dialog, for the next page's offset (empty when its access hash is unknown). */
function inputPeerOf(p: Api.TypePeer, users: Api.TypeUser[], chats: Api.TypeChat[]): Api.TypeInputPeer {
  if (p instanceof Api.PeerUser) {
    const u = users.find((x) => x.id.toString() === p.userId.toString());
    if (u instanceof Api.User && u.accessHash) return new Api.InputPeerUser({ userId: u.id, accessHash: u.accessHash });
  } else if (p instanceof Api.PeerChat) {
    return new Api.InputPeerChat({ chatId: p.chatId });
  } else if (p instanceof Api.PeerChannel) {
    const c = chats.find((x) => x.id.toString() === p.channelId.toString());
    if (c instanceof Api.Channel && c.accessHash) return new Api.InputPeerChannel({ channelId: c.id, accessHash: c.accessHash });
  }
  return new Api.InputPeerEmpty();
}

// Turning a chat message into Planfix's newMessage (and a person into its contact card): pure
// functions of what was received, what became of its file, and the texts of the number's language.
// The side effects (downloads, files kept, avatars) are the inbound bridge's; these only decide.
import type { ChatMessage, PeerInfo } from "../domain/telegram-port.ts";
import type { ContactCard, NewMessageCommand } from "../planfix/index.ts";
import { chatIdFor } from "./chat-id.ts";
import { renderContent, type Texts } from "./texts.ts";

/** What became of the message's file before it goes to Planfix. */
export type MediaOutcome =
  | { kind: "none" }
  | { kind: "kept"; name: string; url: string }
  /** Larger than MAX_FILE_MB (`size` null: Telegram said so during the download). */
  | { kind: "too_big"; size: number | null }
  /** MEDIA_MAX_GB / MIN_FREE_DISK_MB: not kept, `reason` says which. */
  | { kind: "not_kept"; reason: string }
  /** Deleted in Telegram before it was fetched. */
  | { kind: "gone" };

export interface NewMessageInput {
  /** The number's phone number: the channel, and the first half of the chat id. */
  number: string;
  /** The person, with what was known of them before merged in. */
  peer: PeerInfo;
  message: ChatMessage;
  media: MediaOutcome;
  texts: Texts;
  maxFileBytes: number;
  /** The person's profile photo, offered at our URL. */
  avatarUrl: string | null;
}

export function toNewMessage(input: NewMessageInput): NewMessageCommand {
  const { message, peer, texts: t, media } = input;
  let text = message.rendering ? renderContent(t, message.rendering, message.caption ?? "") : message.text;
  const attachments: { name: string; url: string }[] = [];
  if (message.media) {
    const m = message.media;
    if (media.kind === "kept") attachments.push({ name: media.name, url: media.url });
    else if (media.kind === "too_big") text = joinText(text, t.fileTooBig(m.fileName, media.size === null ? null : mb(media.size), mb(input.maxFileBytes)));
    else if (media.kind === "not_kept") text = joinText(text, t.fileNotTransferred(m.fileName, media.reason));
    else if (media.kind === "gone") text = joinText(text, t.fileGone(m.fileName));
    if (!text.trim()) text = t.mediaCaption(m.kind, m.fileName);
  }
  if (message.editDate !== null) text = t.editPrefix + text;
  if (!text.trim() && attachments.length === 0) text = t.emptyMessage;

  const command: NewMessageCommand = {
    chatId: chatIdFor(input.number, peer.userId),
    channel: input.number,
    message: text,
    title: `Telegram: ${displayName(peer)}${peer.username ? ` (@${peer.username})` : ""}`,
    ...contactCard(peer),
    attachments,
  };
  // The task's table names both: Planfix scripts and the first-message form use them to find the person.
  command.telegramUserId = peer.userId;
  if (peer.username) command.telegramUserName = peer.username;
  if (message.out) command.isEcho = true;
  if (input.avatarUrl) command.contactIco = input.avatarUrl;
  return command;
}

/** The contact fields of newMessage and updateContact: the same card either way. */
export function contactCard(peer: PeerInfo): ContactCard {
  const card: ContactCard = {
    contactId: peer.userId,
    contactName: peer.firstName?.trim() || (peer.username ? `@${peer.username}` : "") || peer.phone || `Telegram ${peer.userId}`,
  };
  if (peer.lastName?.trim()) card.contactLastName = peer.lastName.trim();
  if (peer.phone) card.contactPhone = peer.phone;
  if (peer.username) card.contactData = `Telegram: https://t.me/${peer.username}`;
  return card;
}

const mb = (n: number) => (n / 1048576).toFixed(1).replace(/\.0$/, "");
const joinText = (a: string, b: string) => (a.trim() ? `${a}\n${b}` : b);
const displayName = (p: PeerInfo) => [p.firstName, p.lastName].filter((x) => x?.trim()).join(" ") || (p.username ? `@${p.username}` : (p.phone ?? p.userId));

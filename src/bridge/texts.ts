// Every text the appliance itself writes into Planfix (notes in messages, messageStatusText), in the
// customer's language: LANGUAGE for the appliance, `language` per number. One table per language, so a
// missing translation is a type error, not an English word in a Ukrainian task.

import type { MediaKind, Refusal, Rendering } from "../domain/telegram-port.ts";

export const LANGUAGES = ["uk", "ru", "en"] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = "uk";

export const isLanguage = (s: unknown): s is Language => typeof s === "string" && (LANGUAGES as readonly string[]).includes(s);

export interface Texts {
  /** Put before the text of an edited message (sent to Planfix as a new message). */
  editPrefix: string;
  /** A file over MAX_FILE_MB; `size` in MB when Telegram told it. */
  fileTooBig(name: string, sizeMb: string | null, limitMb: string): string;
  /** A file that Telegram no longer has (deleted before we fetched it). */
  fileGone(name: string): string;
  /** A file not passed on for another reason (`reason` is technical, kept as it is). */
  fileNotTransferred(name: string, reason: string): string;
  /** The text of a media-only message: a word for photos, voice, video and stickers, the name of other files. */
  mediaCaption(kind: MediaKind, fileName: string): string;
  /** A message with neither text nor a file we could pass on. */
  emptyMessage: string;
  contact: string;
  location: string;
  liveLocation: string;
  /** A location Telegram sent without coordinates. */
  unknownPlace: string;
  poll: string;
  unsupported(type: string): string;
  unavailable(what: "photo" | "file"): string;
  // messageStatusText for a message Planfix sent that did not reach Telegram
  unknownRecipient: string;
  offlineTooLong(number: string, state: string): string;
  flood(reason: string, seconds: number | null): string;
  refused(reason: string): string;
  /** The other side refused the message for good (privacy, a block, the number's limit on new contacts). */
  refusal(kind: Refusal): string;
  /** A file of Planfix's that could not be fetched or was too big; `detail` is the technical cause. */
  attachmentFailed(detail: string): string;
  notDelivered(detail: string): string;
}

const uk: Texts = {
  editPrefix: "✏️ змінено: ",
  fileTooBig: (name, size, limit) => `[${name}: ${size ? `${size} МБ, ` : ""}більше за ліміт ${limit} МБ — не передано]`,
  fileGone: (name) => `[${name}: файл більше недоступний у Telegram — не передано]`,
  fileNotTransferred: (name, reason) => `[${name}: не передано — ${reason}]`,
  mediaCaption: (kind, name) =>
    captionOf(kind, name, { photo: "📷 Фото", voice: "🎤 Голосове повідомлення", video: "🎬 Відео", video_note: "🎬 Відеоповідомлення", sticker: "Стікер" }),
  emptyMessage: "[порожнє повідомлення]",
  contact: "Контакт",
  location: "Місцезнаходження",
  liveLocation: "Місцезнаходження (наживо)",
  unknownPlace: "невідомо",
  poll: "Опитування",
  unsupported: (type) => `[непідтримуване повідомлення: ${type}]`,
  unavailable: (what) => (what === "photo" ? "[фото недоступне]" : "[файл недоступний]"),
  unknownRecipient: "невідомий отримувач: цей акаунт Telegram не може знайти користувача (немає access hash, імені користувача чи телефону, що знаходиться)",
  offlineTooLong: (number, state) => `номер ${number} надто довго не в мережі (${state})`,
  flood: (reason, s) => `обмеження Telegram на кількість повідомлень: ${reason}${s ? ` (чекати ${s} с)` : ""}`,
  refused: (reason) => `Telegram відхилив повідомлення: ${reason}`,
  refusal: (kind) =>
    ({
      peer_flood:
        "не надіслано: Telegram тимчасово заборонив цьому номеру писати першим новим контактам (обмеження на спам, зазвичай на добу або кілька). Клієнт може написати першим — тоді відповідь дійде",
      privacy: "не надіслано: налаштування приватності клієнта в Telegram не дозволяють писати йому з цього номера. Клієнт може написати першим — тоді відповідь дійде",
      blocked: "не надіслано: Telegram не доставляє повідомлення — клієнта заблоковано з цього номера або він заблокував цей номер",
      deactivated: "не надіслано: акаунт клієнта в Telegram видалено",
    })[kind],
  attachmentFailed: (detail) => `файл не передано: ${detail}`,
  notDelivered: (detail) => `не доставлено: ${detail}`,
};

const ru: Texts = {
  editPrefix: "✏️ изменено: ",
  fileTooBig: (name, size, limit) => `[${name}: ${size ? `${size} МБ, ` : ""}больше лимита ${limit} МБ — не передан]`,
  fileGone: (name) => `[${name}: файл больше недоступен в Telegram — не передан]`,
  fileNotTransferred: (name, reason) => `[${name}: не передан — ${reason}]`,
  mediaCaption: (kind, name) => captionOf(kind, name, { photo: "📷 Фото", voice: "🎤 Голосовое сообщение", video: "🎬 Видео", video_note: "🎬 Видеосообщение", sticker: "Стикер" }),
  emptyMessage: "[пустое сообщение]",
  contact: "Контакт",
  location: "Местоположение",
  liveLocation: "Местоположение (в реальном времени)",
  unknownPlace: "неизвестно",
  poll: "Опрос",
  unsupported: (type) => `[неподдерживаемое сообщение: ${type}]`,
  unavailable: (what) => (what === "photo" ? "[фото недоступно]" : "[файл недоступен]"),
  unknownRecipient: "неизвестный получатель: этот аккаунт Telegram не может найти пользователя (нет access hash, имени пользователя или телефона, который находится)",
  offlineTooLong: (number, state) => `номер ${number} слишком долго не в сети (${state})`,
  flood: (reason, s) => `ограничения Telegram на количество сообщений: ${reason}${s ? ` (ждать ${s} с)` : ""}`,
  refused: (reason) => `Telegram отклонил сообщение: ${reason}`,
  refusal: (kind) =>
    ({
      peer_flood:
        "не отправлено: Telegram временно запретил этому номеру писать первым новым контактам (ограничение за спам, обычно на сутки или несколько). Клиент может написать первым — тогда ответ дойдёт",
      privacy: "не отправлено: настройки приватности клиента в Telegram не позволяют писать ему с этого номера. Клиент может написать первым — тогда ответ дойдёт",
      blocked: "не отправлено: Telegram не доставляет сообщение — клиент заблокирован с этого номера или он заблокировал этот номер",
      deactivated: "не отправлено: аккаунт клиента в Telegram удалён",
    })[kind],
  attachmentFailed: (detail) => `файл не передан: ${detail}`,
  notDelivered: (detail) => `не доставлено: ${detail}`,
};

const en: Texts = {
  editPrefix: "✏️ edited: ",
  fileTooBig: (name, size, limit) => `[${name}: ${size ? `${size} MB, ` : ""}over the ${limit} MB limit — not transferred]`,
  fileGone: (name) => `[${name}: no longer available in Telegram — not transferred]`,
  fileNotTransferred: (name, reason) => `[${name}: not transferred — ${reason}]`,
  mediaCaption: (kind, name) => captionOf(kind, name, { photo: "📷 Photo", voice: "🎤 Voice message", video: "🎬 Video", video_note: "🎬 Video message", sticker: "Sticker" }),
  emptyMessage: "[empty message]",
  contact: "Contact",
  location: "Location",
  liveLocation: "Location (live)",
  unknownPlace: "unknown",
  poll: "Poll",
  unsupported: (type) => `[unsupported message: ${type}]`,
  unavailable: (what) => `[${what} unavailable]`,
  unknownRecipient: "unknown recipient: this Telegram account cannot reach the user (no access hash, username or phone that resolves)",
  offlineTooLong: (number, state) => `number ${number} has been offline too long (${state})`,
  flood: (reason, s) => `Telegram flood limits: ${reason}${s ? ` (wait ${s} s)` : ""}`,
  refused: (reason) => `Telegram refused the message: ${reason}`,
  refusal: (kind) =>
    ({
      peer_flood:
        "not sent: Telegram does not let this number write first to new contacts for now (a spam limit, usually for a day or a few). If the customer writes first, replies go through",
      privacy: "not sent: the customer's Telegram privacy settings do not allow messages from this number. If the customer writes first, replies go through",
      blocked: "not sent: Telegram does not deliver it — the customer is blocked on this number, or blocked it",
      deactivated: "not sent: the customer's Telegram account was deleted",
    })[kind],
  attachmentFailed: (detail) => detail,
  notDelivered: (detail) => detail,
};

/** A word for kinds whose file name means nothing to a person (photo_5301….jpg); the name for documents and audio. */
function captionOf(kind: MediaKind, fileName: string, words: Partial<Record<MediaKind, string>>): string {
  return words[kind] ?? fileName;
}

const TABLES: Record<Language, Texts> = { uk, ru, en };

/** A contact card, location, poll or unusable media as text in `t`'s language, the sender's caption after it. */
export function renderContent(t: Texts, r: Rendering, caption: string): string {
  const lines = (...parts: (string | null | undefined)[]) => parts.filter((p): p is string => !!p && p.trim() !== "").join("\n");
  const geo = (g: { lat: number; long: number } | null) => {
    if (!g) return null;
    const lat = g.lat.toFixed(6);
    const long = g.long.toFixed(6);
    return `${lat}, ${long}\nhttps://maps.google.com/?q=${lat},${long}`;
  };
  switch (r.kind) {
    case "contact":
      return lines(`${t.contact}: ${[r.name, r.phone].filter(Boolean).join(", ")}`, caption);
    case "location":
      if (r.place !== null) return lines(`${t.location}: ${r.place}`, geo(r.geo), caption);
      return lines(`${r.live ? t.liveLocation : t.location}: ${geo(r.geo) ?? t.unknownPlace}`, caption);
    case "poll":
      return lines(`${t.poll}: ${r.question}`, ...r.answers.map((a) => `- ${a}`), caption);
    case "unavailable":
      return lines(t.unavailable(r.what), caption);
    case "unsupported":
      return lines(t.unsupported(r.type), caption);
  }
}

/** The texts of `language`, falling back to `fallback` (the appliance's LANGUAGE) for an unknown or empty one. */
export function textsFor(language: string | null | undefined, fallback: Language = DEFAULT_LANGUAGE): Texts {
  return TABLES[isLanguage(language) ? language : fallback];
}

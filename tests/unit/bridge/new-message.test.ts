// toNewMessage: what Planfix receives for a Telegram message, decided without any I/O.
import { describe, expect, test } from "bun:test";
import { contactCard, type MediaOutcome, toNewMessage } from "../../../src/bridge/new-message.ts";
import { textsFor } from "../../../src/bridge/texts.ts";
import type { ChatMessage, MediaRef, PeerInfo } from "../../../src/domain/telegram-port.ts";

const en = textsFor("en");
const uk = textsFor("uk");
const peer: PeerInfo = {
  userId: "6800630955",
  accessHash: "1",
  username: "olena",
  phone: "380501112233",
  firstName: "Olena",
  lastName: "Shevchenko",
  isBot: false,
  hasPhoto: true,
};
const photo: MediaRef = { kind: "photo", fileName: "photo.jpg", mimeType: "image/jpeg", size: 2 * 1048576, handle: null };
const doc: MediaRef = { kind: "document", fileName: "report.pdf", mimeType: "application/pdf", size: null, handle: null };

const message = (over: Partial<ChatMessage> = {}): ChatMessage => ({ peer, messageId: 7, out: false, date: 0, text: "Hello", media: null, kind: "text", editDate: null, ...over });
const build = (m: ChatMessage, media: MediaOutcome = { kind: "none" }, extra: { avatarUrl?: string | null; texts?: typeof en } = {}) =>
  toNewMessage({ number: "380955821319", peer: m.peer, message: m, media, texts: extra.texts ?? en, maxFileBytes: 50 * 1048576, avatarUrl: extra.avatarUrl ?? null });

describe("toNewMessage", () => {
  test("a text message: the chat of this number and person, the person's card, the text as written", () => {
    const c = build(message());
    expect(c).toMatchObject({
      chatId: "380955821319_6800630955",
      channel: "380955821319",
      message: "Hello",
      title: "Telegram: Olena Shevchenko (@olena)",
      contactId: "6800630955",
      contactName: "Olena",
      contactLastName: "Shevchenko",
      contactPhone: "380501112233",
      contactData: "Telegram: https://t.me/olena",
      telegramUserId: "6800630955",
      telegramUserName: "olena",
      attachments: [],
    });
    expect(c.isEcho).toBeUndefined();
    expect(c.contactIco).toBeUndefined();
  });

  test("the owner's own message is an echo, and the avatar link becomes contactIco", () => {
    const c = build(message({ out: true }), { kind: "none" }, { avatarUrl: "https://bridge.test/files/a/avatar.jpg" });
    expect(c.isEcho).toBe(true);
    expect(c.contactIco).toBe("https://bridge.test/files/a/avatar.jpg");
  });

  test("a kept file is an attachment; without a caption the text names what it is", () => {
    const c = build(message({ text: "", media: photo, kind: "media" }), { kind: "kept", name: "photo.jpg", url: "https://bridge.test/files/x/photo.jpg" });
    expect(c.attachments).toEqual([{ name: "photo.jpg", url: "https://bridge.test/files/x/photo.jpg" }]);
    expect(c.message).toBe(en.mediaCaption("photo", "photo.jpg"));
  });

  test("a file that was not passed on leaves a note after the caption, in the number's language", () => {
    const tooBig = build(message({ text: "see this", media: photo, kind: "media" }), { kind: "too_big", size: photo.size });
    expect(tooBig.message).toBe(`see this\n${en.fileTooBig("photo.jpg", "2", "50")}`);
    expect(tooBig.attachments).toEqual([]);
    const unknownSize = build(message({ text: "", media: doc, kind: "media" }), { kind: "too_big", size: null }, { texts: uk });
    expect(unknownSize.message).toBe(uk.fileTooBig("report.pdf", null, "50"));
    expect(build(message({ text: "", media: doc, kind: "media" }), { kind: "gone" }).message).toBe(en.fileGone("report.pdf"));
    expect(build(message({ text: "x", media: doc, kind: "media" }), { kind: "not_kept", reason: "disk nearly full" }).message).toBe(
      `x\n${en.fileNotTransferred("report.pdf", "disk nearly full")}`,
    );
  });

  test("an edit says so; a message with nothing in it still says something", () => {
    expect(build(message({ editDate: 5, text: "fixed" })).message).toBe(`${en.editPrefix}fixed`);
    expect(build(message({ text: "   " })).message).toBe(en.emptyMessage);
  });

  test("a contact, location or poll is written out in the number's language", () => {
    const c = build(message({ text: "Contact: Ivan +380", kind: "contact", rendering: { kind: "contact", name: "Ivan", phone: "+380" } }), { kind: "none" }, { texts: uk });
    expect(c.message).toContain(uk.contact);
    expect(c.message).not.toContain("Contact:");
  });
});

describe("contactCard", () => {
  test("a person without a first name is named by username, then phone, then id", () => {
    const bare: PeerInfo = { ...peer, firstName: null, lastName: null };
    expect(contactCard(bare).contactName).toBe("@olena");
    expect(contactCard({ ...bare, username: null }).contactName).toBe("380501112233");
    expect(contactCard({ ...bare, username: null, phone: null }).contactName).toBe("Telegram 6800630955");
    expect(contactCard({ ...bare, username: null, phone: null })).toEqual({ contactId: "6800630955", contactName: "Telegram 6800630955" });
  });
});

// A running appliance with one number online (Anna) and a customer (Ivan), for the bridge tests.
import { expect } from "bun:test";
import { tinyPng, type WorldUser } from "../support/telegram/index.ts";
import { world } from "./harness.ts";

export type World = Awaited<ReturnType<typeof world>>;

export async function onlineWorld(opts: Parameters<typeof world>[0] = {}) {
  // The bridge tests read the appliance's notes in English; the language tests choose their own.
  const w = await world({ ...opts, env: { LANGUAGE: "en", ...opts.env } });
  const anna = w.tg.addUser({ firstName: "Anna", lastName: "Owner", phone: "380955821319", username: "anna_acme" });
  const ivan = w.tg.addUser({ firstName: "Ivan", lastName: "Petrenko", phone: "380671234567", username: "ivan_p", photo: tinyPng([10, 120, 200]) });
  await w.app.start();
  const r = await w.app.call("POST", "/client", w.startBody(anna));
  expect(r.json.state).toBe("online");
  const token = r.json.token as string;
  const hook = (fields: Record<string, string | undefined>, attachments: { name: string; url: string }[] = []) =>
    w.planfix.sendWebhook(`${w.app.url}/planfix`, { token, providerId: "planfix-telegram", ...fields }, attachments);
  return { w, anna, ivan, token, hook, chatId: `${anna.phone}_${ivan.id}` };
}

export const untilMessages = (w: World, n: number, chatId?: string, ms = 15_000) =>
  w.planfix.waitFor(() => (w.planfix.newMessages(chatId).length >= n ? w.planfix.newMessages(chatId) : undefined), ms);

/** Ivan writes first, so Anna's account has seen him (as it has for every chat Planfix knows). */
export async function introduce(w: World, ivan: WorldUser, anna: WorldUser, chatId: string): Promise<void> {
  w.tg.driver.sendText(ivan, anna, "hi");
  await untilMessages(w, 1, chatId);
}

export const texts = (w: World, chatId?: string) => w.planfix.newMessages(chatId).map((c) => c.fields.message);
export const received = (w: World, user: WorldUser, from: WorldUser) => w.tg.driver.messages(user, from).filter((m) => !m.out);

/** Polls `probe` until it returns something truthy (fails after `ms`). */
export async function until<T>(probe: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await Bun.sleep(100);
  }
}

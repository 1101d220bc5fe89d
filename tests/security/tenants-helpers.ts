// Shared by the tenants-* security tests: the e2e world plus two companies and a watch on a victim account.
import type { WorldUser } from "../support/telegram/index.ts";
import type { world } from "../e2e/harness.ts";

export type World = Awaited<ReturnType<typeof world>>;

export async function waitState(w: World, number: string, token: string, states: string[], ms = 15_000): Promise<any> {
  const deadline = Date.now() + ms;
  let last: any;
  while (Date.now() < deadline) {
    last = (await w.app.call("GET", `/client?number=${number}`, undefined, token)).json;
    if (states.includes(last?.state)) return last;
    await Bun.sleep(100);
  }
  throw new Error(`number ${number} never reached ${states.join("/")}; last: ${JSON.stringify(last)}`);
}

/** Samples the loopback Telegram server: did the victim's account ever get a live connection? */
export function watchVictim(w: World, victim: WorldUser) {
  let seen = 0;
  const timer = setInterval(() => (seen += w.tg.liveConnections({ userId: victim.id })), 10);
  return {
    /** Stops watching; how many samples saw a connection of the victim. */
    stop(): number {
      clearInterval(timer);
      return seen + w.tg.liveConnections({ userId: victim.id });
    },
  };
}

/** Two companies, each created by the admin with one number online: acme (Anna) and beta (Boris). */
export async function twoCompanies(w: World) {
  const anna = w.tg.addUser({ firstName: "Anna", phone: "380955821319" });
  const boris = w.tg.addUser({ firstName: "Boris", phone: "380501112233" });
  await w.app.start();
  const a = await w.app.call("POST", "/client", w.startBody(anna));
  const b = await w.app.call("POST", "/client", w.startBody(boris, { name: "beta" }));
  if (a.status !== 201 || b.status !== 201) throw new Error(`setup failed: ${a.text} ${b.text}`);
  return { anna, boris, acmeToken: a.json.token as string, betaToken: b.json.token as string };
}

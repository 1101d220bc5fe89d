// A number's proxy in the pool (real pool and API, fake connector): which proxy a connect gets, the
// outbound address policy on a number's own proxy, and proxy_failed retried until it works.
import { afterEach, describe, expect, test } from "bun:test";
import type { StateChange } from "../../../src/accounts/states.ts";
import { TelegramFailure } from "../../../src/domain/telegram-port.ts";
import { ADMIN, startApiHarness, startBody } from "../../support/api-harness.ts";

type Harness = Awaited<ReturnType<typeof startApiHarness>>;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("which proxy a connect goes through", () => {
  test("TELEGRAM_PROXY (the operator's, not checked) unless the number sets its own or direct; its own goes to the checked address", async () => {
    h = await startApiHarness({}, { env: { TELEGRAM_PROXY: "socks5://op:op-pass@10.9.9.9:1080", RESOLVE_OVERRIDE: "proxy.example=8.8.8.8" } });
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json).toMatchObject({ state: "online", proxy: null });
    expect(h.connector.connections.at(-1)!.options.proxy).toEqual({ kind: "socks5", host: "10.9.9.9", port: 1080, username: "op", password: "op-pass" });

    const own = await h.call("PUT", "/client", { number: "380955821319", proxy: "mtproxy://0123456789abcdef0123456789abcdef@proxy.example:443" }, r.json.token);
    expect(own.json).toMatchObject({ state: "online", proxy: "mtproxy://***@proxy.example:443" });
    expect(h.connector.connections.at(-1)!.options.proxy).toEqual({
      kind: "mtproxy",
      host: "proxy.example",
      port: 443,
      secret: "0123456789abcdef0123456789abcdef",
      address: "8.8.8.8",
    });

    const direct = await h.call("PUT", "/client", { number: "380955821319", proxy: "direct" }, r.json.token);
    expect(direct.json).toMatchObject({ state: "online", proxy: "direct" });
    expect(h.connector.connections.at(-1)!.options.proxy).toBeNull();

    const back = await h.call("PUT", "/client", { number: "380955821319", proxy: null }, r.json.token);
    expect(back.json).toMatchObject({ state: "online", proxy: null });
    expect(h.connector.connections.at(-1)!.options.proxy).toMatchObject({ host: "10.9.9.9" });
    expect(h.lines.join("\n")).not.toContain("op-pass");
  });

  test("a stored own proxy that the policy refuses now (the name moved inside) stops the number with error, not a connect", async () => {
    h = await startApiHarness({}, { env: { RESOLVE_OVERRIDE: "proxy.example=8.8.8.8" } });
    const r = await h.call("POST", "/client", startBody(h.session("a.txt"), { proxy: "socks5://proxy.example:1080" }), ADMIN);
    expect(r.json.state).toBe("online");
    const attempts = h.connector.attempts;
    // As if the operator's data had been changed under it: the runner checks again on every connect.
    const account = (await h.clients.accountByNumber("380955821319"))!;
    await h.clients.updateAccount(account.id, { proxy: "socks5://10.1.2.3:1080" });
    const put = await h.call("PUT", "/client", { number: "380955821319", provider_id: "other" }, r.json.token);
    expect(put.json).toMatchObject({ state: "error" });
    expect(put.json.reason).toBe("proxy socks5://10.1.2.3:1080 is not allowed (10.1.2.3 is a private address); ALLOW_PRIVATE_NETWORKS opens private networks");
    expect(h.connector.attempts).toBe(attempts);
  });
});

describe("proxy_failed", () => {
  test("shown with its reason while the proxy fails, retried with backoff, online by itself when it works; every move within the table", async () => {
    h = await startApiHarness({
      onConnect: (_o, attempt) => {
        if (attempt >= 2 && attempt <= 4) throw new TelegramFailure("proxy", "proxy socks5://127.0.0.1:1080 unreachable: connection refused");
      },
    });
    const seen: StateChange[] = [];
    h.pool.onStateChange((c) => seen.push(c));
    const r = await h.call("POST", "/client", startBody(h.session("a.txt")), ADMIN);
    expect(r.json.state).toBe("online");
    h.connector.connections.at(-1)!.lose(new TelegramFailure("network", "connection to Telegram dropped"));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !seen.some((c) => c.to === "online" && c.from !== "connecting")) await Bun.sleep(20);
    const moves = seen.map((c) => `${c.from}>${c.to}`);
    expect(moves.slice(3)).toEqual([
      "online>reconnecting",
      "reconnecting>reconnecting",
      "reconnecting>proxy_failed",
      "proxy_failed>proxy_failed",
      "proxy_failed>proxy_failed",
      "proxy_failed>proxy_failed",
      "proxy_failed>proxy_failed",
      "proxy_failed>proxy_failed",
      "proxy_failed>online",
    ]);
    const failed = seen.filter((c) => c.to === "proxy_failed");
    expect(failed[0]!.reason).toMatch(/^proxy socks5:\/\/127\.0\.0\.1:1080 unreachable: connection refused; retrying in \d+ s$/);
    expect(failed[1]!.reason).toBe("proxy socks5://127.0.0.1:1080 unreachable: connection refused; trying again");
    expect(h.lines.some((l) => l.includes("unexpected state change"))).toBe(false);
  });
});

// One company's token must not learn which numbers or files another company has.
// Against the compiled binary: acme's token probes beta's number and beta's files.
import { afterEach, describe, expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { world } from "../e2e/harness.ts";
import { twoCompanies, type World } from "./tenants-helpers.ts";

let w: World;
afterEach(async () => w && (await w.close()));

describe("tenants cannot learn about each other (compiled binary)", () => {
  test("without a valid file of its own, another client's number answers exactly like an unknown one", async () => {
    w = await world();
    const { boris, acmeToken } = await twoCompanies(w);
    const betaFile = `beta/${boris.id}.session.txt`;
    symlinkSync(join(w.dataDir, "sessions", betaFile), join(w.dataDir, "sessions", "acme", "peek.txt"));
    const probe = (number: string, extra: Record<string, unknown>) =>
      w.app.call("POST", "/client", { name: "acme", number, url_planfix: w.planfix.url, token_planfix: "k", ...extra }, acmeToken);

    for (const extra of [
      { path_session: "acme/nothing.txt" },
      { path_session: betaFile },
      { path_session: "acme/peek.txt" },
      { path_session: "beta" },
      { name_session: "nothing" },
      { path_session: "acme" },
    ]) {
      const taken = await probe(boris.phone, extra); // beta's number
      const unknown = await probe("380990000077", extra); // nobody's
      expect({ extra, status: taken.status, body: taken.json }).toEqual({ extra, status: unknown.status, body: unknown.json });
      expect(taken.status).toBe(422);
      // No absolute paths, no other client's name or folder in the words.
      expect(taken.text).not.toContain(w.dataDir);
      expect(taken.text).not.toContain("beta");
      expect(taken.text).not.toContain(String(boris.id));
    }
    // GET, DELETE and PUT on beta's number: 404 exactly as for an unknown number.
    for (const [method, path, body] of [
      ["GET", `/client?number=${boris.phone}`, undefined],
      ["DELETE", `/client?number=${boris.phone}`, undefined],
      ["PUT", "/client", { number: boris.phone, path_session: "acme/nothing.txt" }],
    ] as const) {
      const taken = await w.app.call(method, path, body, acmeToken);
      const unknown = await w.app.call(method, path.replace(boris.phone, "380990000077"), body ? { ...body, number: "380990000077" } : undefined, acmeToken);
      expect(taken.status).toBe(404);
      expect(taken.json.error.replace(boris.phone, "N")).toBe(unknown.json.error.replace("380990000077", "N"));
    }
    // Beta's number was untouched throughout.
    expect(w.tg.liveConnections({ userId: boris.id })).toBeGreaterThan(0);
  });

  test("with a valid file of its own, a taken number is refused and the owner keeps it", async () => {
    w = await world();
    const { boris, acmeToken, betaToken } = await twoCompanies(w);
    const extra = w.tg.addUser({ firstName: "Extra", phone: "380670000001" });
    const r = await w.app.call(
      "POST",
      "/client",
      { name: "acme", number: boris.phone, url_planfix: w.planfix.url, token_planfix: "k", path_session: w.sessionFor(extra, "extra.txt", "acme") },
      acmeToken,
    );
    expect(r.status).toBe(409);
    expect(r.text).not.toContain("beta");
    expect(w.tg.liveConnections({ userId: extra.id })).toBe(0);
    const owner = await w.app.call("GET", `/client?number=${boris.phone}`, undefined, betaToken);
    expect(owner.json).toMatchObject({ name: "beta", state: "online", telegram_user_id: String(boris.id) });
  });
});

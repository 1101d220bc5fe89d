import { expect, test } from "bun:test";
test("placeholder until the binary tests exist", () => { expect(1).toBe(1); });

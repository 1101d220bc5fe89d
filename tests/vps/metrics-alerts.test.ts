// docs/alerts.yml passes `promtool check rules`, and `promtool test rules` shows each alert fires on the
// series it is about (and stays quiet on healthy ones).
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { run } from "./support.ts";

const RULES = resolve(import.meta.dir, "../../docs/alerts.yml");
const dir = mkdtempSync(join(tmpdir(), "pt-alerts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("promtool check rules accepts docs/alerts.yml", () => {
  const r = run(["promtool", "check", "rules", RULES]);
  expect(r.out + r.err).toContain("SUCCESS: 5 rules found");
  expect(r.code).toBe(0);
});

test("promtool check rules refuses a broken rule file (so the check above means something)", () => {
  const broken = join(dir, "broken.yml");
  writeFileSync(broken, "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: planfix_telegram_numbers{state=\n");
  expect(run(["promtool", "check", "rules", broken]).code).not.toBe(0);
});

test("promtool check config accepts the scrape job of docs/deploy.md (token file and alert rules in place)", () => {
  const doc = readFileSync(resolve(import.meta.dir, "../../docs/deploy.md"), "utf8");
  const monitoring = doc.slice(doc.indexOf("## 10. Monitoring"));
  const m = monitoring.match(/```yaml\n([\s\S]*?)```/);
  if (!m) throw new Error("docs/deploy.md's Monitoring section has no ```yaml block");
  expect(m[1]).toContain("credentials_file: /etc/prometheus/planfix-telegram.token");
  const etc = join(dir, "etc-prometheus");
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "planfix-telegram.token"), "a".repeat(64));
  copyFileSync(RULES, join(etc, "planfix-telegram-alerts.yml"));
  const config = join(etc, "prometheus.yml");
  writeFileSync(config, m[1]!.replaceAll("/etc/prometheus/", `${etc}/`));
  const r = run(["promtool", "check", "config", config]);
  expect(r.out + r.err).toContain("SUCCESS: 5 rules found");
  expect(r.code).toBe(0);
});

test("promtool test rules: each alert fires on what it is about, and not on a healthy appliance", () => {
  copyFileSync(RULES, join(dir, "alerts.yml"));
  // Annotations as Prometheus renders them: the file's own, with the summary's template filled in here.
  type Rule = { alert: string; annotations: { summary: string; description: string } };
  const rules = (Bun.YAML.parse(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups[0]!.rules;
  const alert = (name: string, at: string, fired: { labels: Record<string, string>; summary: string; description?: string } | null) => {
    const rule = rules.find((r) => r.alert === name)!;
    const annotations = fired && { summary: fired.summary, description: fired.description ?? rule.annotations.description };
    return `      - eval_time: ${at}\n        alertname: ${name}\n        exp_alerts:${fired ? `\n          - exp_labels: ${JSON.stringify({ severity: "warning", ...fired.labels })}\n            exp_annotations: ${JSON.stringify(annotations)}` : " []"}\n`;
  };
  const tests = `rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'planfix_telegram_numbers{state="online"}'
        values: '2x30'
      - series: 'planfix_telegram_numbers{state="reconnecting"}'
        values: '0x5 1x25'
      - series: 'planfix_telegram_numbers{state="stopped"}'
        values: '3x30'
      - series: 'planfix_telegram_queue_oldest_waiting_seconds{direction="to_planfix"}'
        values: '0 0 60+60x28'
      - series: 'planfix_telegram_queue_parked{direction="to_telegram"}'
        values: '0x10 1x20'
      - series: 'planfix_telegram_flood_wait_seconds_total'
        values: '0x20 30x10'
      - series: 'planfix_telegram_telegram_errors_total{error="PEER_FLOOD"}'
        values: '0x30'
    alert_rule_test:
${alert("PlanfixTelegramNumberNotOnline", "14m", null)}${alert("PlanfixTelegramNumberNotOnline", "16m", { labels: {}, summary: "1 number(s) not online for 10 minutes" })}${alert("PlanfixTelegramToPlanfixStuck", "10m", null)}${alert("PlanfixTelegramToPlanfixStuck", "20m", { labels: { direction: "to_planfix" }, summary: "a customer's message has waited more than 15 minutes for Planfix", description: "The oldest item for Planfix is 19m 0s old: Planfix is down, slow or refuses the key (GET /client shows queues.to_planfix.problem)." })}${alert("PlanfixTelegramParkedItems", "5m", null)}${alert("PlanfixTelegramParkedItems", "12m", { labels: { direction: "to_telegram" }, summary: "1 item(s) to_telegram given up and parked" })}${alert("PlanfixTelegramFloodWaits", "15m", null)}${alert("PlanfixTelegramFloodWaits", "22m", { labels: {}, summary: "Telegram is limiting how fast the numbers may send" })}`;
  const file = join(dir, "alerts.test.yml");
  writeFileSync(file, tests);
  const r = run(["promtool", "test", "rules", file]);
  expect(r.out + r.err).toContain("SUCCESS");
  expect(r.code).toBe(0);
});

// The drill's report as text: the figures per direction, the faults, and the verdict.
import type { DrillResult } from "./index.ts";

const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "never");
const pad = (v: string | number, n: number) => String(v).padStart(n);

export function formatReport(r: DrillResult): string {
  const out: string[] = [];
  const line = (t = "") => out.push(t);
  line(`═══ drill report · seed ${r.seed} (reproduce: DRILL_SEED=${r.seed} DRILL_SECONDS=${r.options.seconds}) ═══`);
  line(`${r.clients} clients, ${r.numbers} numbers, ${r.chats} chats · load ${s(r.loadMs)} · drain ${s(r.drainMs)}${r.drained ? "" : " (NOT drained)"}`);
  line(
    `faults: ${r.kills} kill -9 + restart, ${r.terms} SIGTERM + restart (stop ≤ ${r.maxTermStopMs === null ? "HUNG" : s(r.maxTermStopMs)}), ${r.faults.planfix} Planfix outages, ${r.faults.tgDrop} Telegram drops, ${r.faults.tgStall} Telegram stalls, ${r.faults.flood} flood waits, ${r.faults.revoke} revoked sessions, ${r.faults.freeze} frozen accounts, ${r.faults.fileRef} file-reference expiries` +
      ` · after a restart: /health ≤ ${s(r.maxRestartMs)} and every number online ≤ ${s(r.maxBackOnlineMs)} from the restart`,
  );
  line();
  line(`                       sent  delivered   lost   held  duplicated  order  longest delay  (p50 / p99)`);
  const row = (name: string, d: DrillResult["tp"] | DrillResult["pt"]) =>
    line(
      `${name.padEnd(20)} ${pad(d.sent, 6)} ${pad(d.delivered, 10)} ${pad(d.lost, 6)} ${pad(d.heldAtEnd, 6)} ${pad(d.duplicated, 11)} ${pad(d.orderViolations, 6)} ${pad(s(d.maxDelayMs), 14)}  (${s(d.p50DelayMs)} / ${s(d.p99DelayMs)})`,
    );
  row("Telegram → Planfix", r.tp);
  row("Planfix → Telegram", r.pt);
  const q = r.queues;
  line(
    q
      ? `held at the end (waiting): ${q.held.to_planfix} to Planfix, ${q.held.to_telegram} to Telegram · parked: ${q.parked.to_planfix} to Planfix, ${q.parked.to_telegram} to Telegram (all must be 0)`
      : "held / parked at the end: NOT READ (GET /admin/clients)",
  );
  line(`  (lost: neither delivered nor listed by the appliance; held: not delivered but still waiting or parked in the appliance)`);
  const imp = (kind: "revoke" | "freeze") => r.impaired.filter((x) => x.kind === kind);
  const longest = (xs: { ms: number | null }[]) => (xs.some((x) => x.ms === null) ? "NOT fixed" : s(Math.max(0, ...xs.map((x) => x.ms!))));
  line(
    `numbers unable to send: ${imp("revoke").length} signed out (longest ${longest(imp("revoke"))} until signed in again), ${imp("freeze").length} frozen (longest ${longest(imp("freeze"))})` +
      ` · parked meanwhile and re-sent by the operator: ${r.pt.parkedWhileImpaired} (${r.pt.parkedWhileImpairedDelivered} delivered) · downloads met FILE_REFERENCE_EXPIRED: ${r.fileReferencesExpired}`,
  );
  for (const e of r.operatorFailures.slice(0, 3)) line(`  operator action failed: ${e}`);
  line();
  line(`>>> REDELIVERED AFTER A KILL (Telegram → Planfix): ${r.tp.redeliveredAfterKill} <<<`);
  line(`    Planfix's newMessage carries no id to deduplicate by: the item whose answer a kill -9 cut off is sent again`);
  line(`    after the restart (at-least-once at the crash instant, never a loss). Unexplained duplicates: ${r.tp.unexplainedDuplicates}.`);
  const kills = r.tp.redeliveredByKill.filter((_, i) => r.killKinds[i] === "kill");
  if (r.tp.redeliveredAfterKill > 0) {
    const before = [...r.tp.firstCopyBeforeKillMs].sort((a, b) => a - b);
    line(`    per kill: ${kills.join(" ")} · Planfix took the first copy ${before[0]}…${before.at(-1)} ms before the kill`);
  }
  line();
  line(
    `Telegram → Planfix: ${r.tp.media} with media (${r.tp.badAttachments} bad links), ${r.tp.edits} edits (${r.tp.badEdits} not marked) · unexpected messages in Planfix: ${r.tp.unknown}`,
  );
  line(
    `Planfix → Telegram: ${r.pt.parts} Telegram messages expected (texts + files), ${r.pt.partsDelivered} arrived · webhooks: ${r.pt.webhookAttempts} attempts ` +
      `(${Object.entries(r.pt.webhookOutcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}×${n}`)
        .join(", ")}) · ${r.pt.repeats} repeats of answered webhooks · longest until accepted ${s(r.pt.maxAcceptDelayMs)}`,
  );
  line(
    `  statuses to Planfix: "sent" for ${r.pt.statusSent}, missing ${r.pt.statusMissing}, errors ${r.pt.statusErrors}, re-sent after a kill ${r.pt.statusRedeliveredAfterKill}, unexplained repeats ${r.pt.statusUnexplainedDuplicates}` +
      ` · never accepted ${r.pt.neverAccepted}, refused ${r.pt.refused}, unexpected in Telegram ${r.pt.unknown}`,
  );
  line(
    `appliance: crashes ${r.crashes}, failed restarts ${r.restartFailures.length}, clean stop at the end ${r.cleanStopMs === null ? "FAILED" : s(r.cleanStopMs)}, error log lines ${r.applianceErrorLines}` +
      ` · Telegram auth keys seen twice: ${r.telegramDuplicateKeys} · loopback internal errors: ${r.loopbackInternalErrors}`,
  );
  for (const e of r.applianceErrorSamples) line(`  log: ${e.slice(0, 240)}`);
  const problems = [...r.tp.problems, ...r.pt.problems];
  if (problems.length) {
    line();
    line("problems (first few of each kind):");
    for (const p of problems) line(`  - ${p}`);
  }
  line();
  if (r.failures.length === 0) line(`RESULT: PASS${r.kept ? ` (kept ${r.dir})` : ""}`);
  else {
    line(`RESULT: FAIL — data directory and appliance log kept in ${r.dir}`);
    for (const f of r.failures) line(`  ✗ ${f}`);
  }
  return out.join("\n");
}

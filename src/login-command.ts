// `planfix-telegram login --client acme --number +380… [--code]`: logs a Telegram account in from the
// terminal (a QR code drawn in the terminal, or the phone code; then the 2FA password, typed without
// echo) and writes the session into the client's folder. It never starts the number itself — the
// appliance may be running and a key must never be live twice — it says which call starts it.
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import QRCode from "qrcode";
import * as v from "valibot";
import { NumberField } from "./accounts/input.ts";
import { loadSettings, SettingsError } from "./config.ts";
import { LoginFailure, type LoginStep } from "./domain/login-port.ts";
import { createLogger } from "./log.ts";
import { clientFolderProblem } from "./sessions/confine.ts";
import { deviceOf } from "./telegram/device.ts";
import { createGramjsLogin } from "./telegram/login.ts";
import { trustServerKeys } from "./telegram/server-keys.ts";

export const LOGIN_USAGE =
  "Usage: planfix-telegram login --client NAME --number PHONE [--code] [--data-dir DIR] [--sessions-dir DIR]\n" +
  "  Logs a Telegram account in and writes SESSIONS_DIR/NAME/PHONE.session (mode 0600).\n" +
  "  Default: a QR code to scan in Telegram (Settings → Devices → Link Desktop Device); --code: a code Telegram sends.\n" +
  "  The 2FA password is asked for when the account has one. Needs TELEGRAM_API_ID and TELEGRAM_API_HASH.\n";

type Out = { write(s: string): unknown };

export async function runLogin(
  args: readonly string[],
  env: Record<string, string | undefined>,
  version: string,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  let client: string | null = null;
  let numberText: string | null = null;
  let method: "qr" | "code" = "qr";
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") return (out.write(LOGIN_USAGE), 0);
    if (a === "--code") method = "code";
    else if (a === "--qr") method = "qr";
    else if (a === "--client") client = args[++i] ?? null;
    else if (a.startsWith("--client=")) client = a.slice(9);
    else if (a === "--number") numberText = args[++i] ?? null;
    else if (a.startsWith("--number=")) numberText = a.slice(9);
    else if (a.startsWith("--")) rest.push(a, ...(a.includes("=") ? [] : [args[++i] ?? ""]));
    else return (err.write(`planfix-telegram login: unexpected "${a}"\n${LOGIN_USAGE}`), 2);
  }
  if (!client) return (err.write(`planfix-telegram login: --client is missing\n${LOGIN_USAGE}`), 2);
  const folderProblem = clientFolderProblem(client);
  if (folderProblem) return (err.write(`planfix-telegram login: --client: ${folderProblem}\n`), 2);
  const num = v.safeParse(NumberField, numberText ?? undefined);
  if (!numberText || !num.success)
    return (err.write(`planfix-telegram login: --number ${numberText ? num.issues?.[0]?.message : "is missing"}\n${numberText ? "" : LOGIN_USAGE}`), 2);
  const number = num.output;
  let settings;
  try {
    settings = loadSettings(rest, env);
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    return (err.write(`planfix-telegram login: ${e.message}\n`), 2);
  }
  if (!settings.telegramApiId || !settings.telegramApiHash)
    return (err.write("planfix-telegram login: TELEGRAM_API_ID and TELEGRAM_API_HASH must be set (from my.telegram.org)\n"), 2);
  trustServerKeys(settings.telegramServerKeys);
  // Nothing of GramJS on the terminal: its lines go to a silent logger (they never hold codes anyway).
  const log = createLogger("silent");
  const connector = createGramjsLogin({
    apiId: settings.telegramApiId,
    apiHash: settings.telegramApiHash,
    endpoint: settings.telegramEndpoint,
    proxy: settings.telegramProxy,
    device: deviceOf(settings.telegramDevice, version),
    log,
  });

  out.write(method === "qr" ? `Logging ${number} in for client "${client}" by QR code…\n` : `Logging ${number} in for client "${client}": asking Telegram for a code…\n`);
  let flow;
  try {
    flow = await connector.start({ method, phone: number });
  } catch (e) {
    return (err.write(`planfix-telegram login: ${e instanceof LoginFailure ? e.message : String(e)}\n`), 1);
  }
  let wake: (() => void) | null = null;
  flow.onStep(() => wake?.());
  const input = new Prompter();
  try {
    let shownQr = "";
    for (;;) {
      const step: LoginStep = flow.step;
      if (step.kind === "done") {
        const file = writeSession(settings.sessionsDir, client, number, step.session);
        out.write(`\nLogged in. The session is saved in ${join(settings.sessionsDir, file)} (mode 0600).\n`);
        out.write(`Start the number (the appliance running, with ${client}'s token, or the admin token for a new client):\n`);
        const base = `http://127.0.0.1:${settings.port}`;
        out.write(
          `  curl -X POST ${base}/client -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\\n` +
            `    -d '{"name":"${client}","number":"${number}","path_session":"${file}","url_planfix":"…","token_planfix":"…"}'\n` +
            `A number the appliance already has: PUT /client with {"number":"${number}","path_session":"${file}"}.\n`,
        );
        return 0;
      }
      if (step.kind === "failed") return (err.write(`planfix-telegram login: ${step.reason}\n`), 1);
      if (step.kind === "waiting_qr") {
        if (step.link !== shownQr) {
          shownQr = step.link;
          const qr = await QRCode.toString(step.link, { type: "terminal", small: true });
          out.write(
            `\nScan this in Telegram on the account's phone: Settings → Devices → Link Desktop Device\n${qr}\nQR link: ${step.link}\n(the code changes every 30 seconds; this one is valid until ${new Date(step.expiresAt).toLocaleTimeString()})\n`,
          );
        }
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const asking =
        step.kind === "waiting_code"
          ? `Code (sent ${step.via === "app" ? "to the account's Telegram app" : step.via === "sms" ? "by SMS" : "by Telegram"}): `
          : `Two-step verification password${step.hint ? ` (hint: ${step.hint})` : ""}: `;
      const answer = await input.ask(out, asking);
      if (answer === null) return (err.write("planfix-telegram login: cancelled\n"), 130);
      try {
        if (step.kind === "waiting_code") await flow.submitCode(answer);
        else await flow.submitPassword(answer);
      } catch (e) {
        if (!(e instanceof LoginFailure)) throw e;
        if (!e.retry) return (err.write(`planfix-telegram login: ${e.message}\n`), 1);
        err.write(`${e.message}\n`);
      }
    }
  } finally {
    input.close();
    await flow.cancel();
  }
}

/** Writes the session as SESSIONS_DIR/<client>/<number>.session; an existing file is kept and a dated name used. */
function writeSession(sessionsDir: string, client: string, number: string, session: string): string {
  mkdirSync(join(sessionsDir, client), { recursive: true, mode: 0o700 });
  let rel = `${client}/${number}.session`;
  // Never overwrite: a running number may be using that file (its key must not be replaced under it).
  if (existsSync(join(sessionsDir, rel))) rel = `${client}/${number}-${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}.session`;
  const path = join(sessionsDir, rel);
  writeFileSync(`${path}.tmp`, session, { mode: 0o600 });
  chmodSync(`${path}.tmp`, 0o600);
  renameSync(`${path}.tmp`, path);
  return rel;
}

/** Reads answers line by line from stdin; on a terminal without echo (the code and the password are secrets). */
class Prompter {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;
  private readonly tty = Boolean(process.stdin.isTTY);
  private readonly onData = (chunk: Buffer | string) => this.feed(String(chunk));
  private readonly onEnd = () => {
    this.ended = true;
    this.waiting?.(null);
  };
  private started = false;

  async ask(out: Out, question: string): Promise<string | null> {
    out.write(question);
    if (!this.started) {
      this.started = true;
      if (this.tty) process.stdin.setRawMode(true);
      process.stdin.on("data", this.onData);
      process.stdin.on("end", this.onEnd);
    }
    process.stdin.resume();
    const line = await new Promise<string | null>((resolve) => {
      const ready = this.lines.shift();
      if (ready !== undefined) return resolve(ready);
      if (this.ended) return resolve(null);
      this.waiting = resolve;
    });
    this.waiting = null;
    process.stdin.pause();
    out.write("\n");
    return line;
  }

  private feed(text: string): void {
    for (const ch of text) {
      if (ch === "\u0003" || ch === "\u0004") return void this.waiting?.(null); // Ctrl-C, Ctrl-D
      if (ch === "\u007f" || ch === "\b") this.buffer = this.buffer.slice(0, -1);
      else if (ch === "\r" || ch === "\n") {
        const line = this.buffer.trim();
        this.buffer = "";
        if (!line) continue;
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(line);
        } else this.lines.push(line);
      } else this.buffer += ch;
    }
  }

  close(): void {
    if (!this.started) return;
    process.stdin.off("data", this.onData);
    process.stdin.off("end", this.onEnd);
    if (this.tty) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

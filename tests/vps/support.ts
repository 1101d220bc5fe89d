// Helpers for the VPS tests: the compiled binary started with any settings (HTTPS included), test
// certificates made with openssl, and what certificate a TLS client actually sees.
import { spawnSync, type Subprocess } from "bun";
import { ApplianceProcess } from "../support/appliance-process.ts";
import { join } from "node:path";
import { BINARY, ensureBinary, freePort } from "../e2e/harness.ts";

export { BINARY, freePort };

export function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env } as Record<string, string> });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** A self-signed certificate (or one signed by `ca`) for `names` (DNS names and IPs); returns the file paths. */
export function makeCert(dir: string, name: string, cn: string, names: string[] = ["127.0.0.1"], ca?: { crt: string; key: string }) {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const san = "subjectAltName=" + names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  const base = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-subj", `/CN=${cn}`, "-days", "3"];
  const r = ca
    ? run([
        "sh",
        "-c",
        `${base.map((a) => `'${a}'`).join(" ")} -addext '${san}' | openssl x509 -req -CA '${ca.crt}' -CAkey '${ca.key}' -CAcreateserial -days 3 -copy_extensions copy -out '${crt}'`,
      ])
    : run([...base, "-x509", "-addext", san, ...(name.endsWith("ca") ? ["-addext", "basicConstraints=critical,CA:TRUE"] : []), "-out", crt]);
  if (r.code !== 0) throw new Error(`openssl failed: ${r.err}`);
  return { crt, key };
}

/** The subject, issuer and names of the certificate a TLS client is shown at 127.0.0.1:port (with SNI `servername`). */
export async function servedCert(port: number, servername = "localhost"): Promise<string> {
  const p = Bun.spawn(
    [
      "sh",
      "-c",
      `echo | timeout 10 openssl s_client -connect 127.0.0.1:${port} -servername ${servername} 2>/dev/null | openssl x509 -noout -subject -issuer -ext subjectAltName 2>/dev/null`,
    ],
    { stdout: "pipe", stderr: "ignore" },
  );
  return (await new Response(p.stdout).text()).trim();
}

export async function until<T>(what: string | (() => string), f: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(100);
  }
}

/** The compiled binary with the given settings (the kit's ApplianceProcess); its log lines collected. */
export class Proc {
  private readonly run: ApplianceProcess;

  constructor(args: string[], env: Record<string, string>, binary = BINARY) {
    if (binary === BINARY) ensureBinary();
    this.run = new ApplianceProcess({ command: [binary, ...args], env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env } });
  }

  get proc(): Subprocess<"ignore", "pipe", "pipe"> {
    return this.run.proc;
  }

  get lines(): string[] {
    return this.run.lines;
  }

  text(): string {
    return this.run.text();
  }

  waitLog(re: RegExp, ms = 20_000): Promise<string> {
    return until(
      () => `log line ${re} in:\n${this.text()}`,
      () => {
        if (this.proc.exitCode !== null && !this.lines.some((l) => re.test(l))) throw new Error(`exited ${this.proc.exitCode} before ${re}:\n${this.text()}`);
        return this.lines.find((l) => re.test(l));
      },
      ms,
    );
  }

  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    const r = await this.run.stop(15_000);
    return r.killed ? null : r.code;
  }
}

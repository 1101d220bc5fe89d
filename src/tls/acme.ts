// Certificates over ACME (Let's Encrypt by default) with acme-client: HTTP-01 challenges answered on
// their own plain-HTTP port; the account key, certificate and key kept in DATA_DIR/acme (0600); renewed
// when fewer than `renewDays` days are left, checked at start and twice a day.
import * as acme from "acme-client";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { rootCertificates } from "node:tls";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { errorText } from "../log.ts";
import type { TlsPair } from "./https-server.ts";

export interface AcmeOptions {
  domain: string;
  email: string | null;
  directory: string;
  httpPort: number;
  hostname: string;
  caFile: string | null;
  renewDays: number;
  dir: string;
  log: Logger;
  /** Called with every certificate in force: the stored one at start, then each renewal. */
  onCertificate: (pair: TlsPair) => void;
}

const CHECK_EVERY_MS = 12 * 3600_000;
const RETRY_FIRST_MS = 30_000;
const RETRY_MAX_MS = 3600_000;
const DAY_MS = 86_400_000;

/** True when `certPem` is for `domain` and stays valid for more than `renewDays` days after `now`. */
export function certStillGood(certPem: string, domain: string, renewDays: number, now = new Date()): boolean {
  try {
    const info = acme.crypto.readCertificateInfo(certPem);
    const names = [info.domains.commonName, ...info.domains.altNames].map((n) => n?.toLowerCase());
    return names.includes(domain) && info.notAfter.getTime() - now.getTime() > renewDays * DAY_MS;
  } catch {
    return false;
  }
}

export class AcmeCertificates {
  private readonly challenges = new Map<string, string>();
  private challengeServer: ReturnType<typeof Bun.serve> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private failures = 0;

  constructor(private readonly o: AcmeOptions) {}

  private get certFile() {
    return join(this.o.dir, `${this.o.domain}.crt`);
  }
  private get keyFile() {
    return join(this.o.dir, `${this.o.domain}.key`);
  }

  /** Answers HTTP-01 challenges; hands over the stored certificate when it is still good; orders one otherwise. */
  start(): void {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.o.dir, 0o700);
    if (this.o.caFile) {
      // acme-client talks to the directory through its own axios instance: trust the extra CA there only.
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, readFileSync(this.o.caFile, "utf8")] });
    }
    this.challengeServer = Bun.serve({
      port: this.o.httpPort,
      hostname: this.o.hostname,
      fetch: (req) => this.answerChallenge(req),
    });
    const stored = this.stored();
    if (stored) this.o.onCertificate(stored);
    void this.check();
  }

  private answerChallenge(req: Request): Response {
    const path = new URL(req.url).pathname;
    const prefix = "/.well-known/acme-challenge/";
    const answer = path.startsWith(prefix) ? this.challenges.get(path.slice(prefix.length)) : undefined;
    if (answer) return new Response(answer, { headers: { "content-type": "text/plain" } });
    return Response.json({ error: `this port answers ACME challenges only; the appliance is at https://${this.o.domain}` }, { status: 404 });
  }

  private stored(): TlsPair | null {
    if (!existsSync(this.certFile) || !existsSync(this.keyFile)) return null;
    const cert = readFileSync(this.certFile, "utf8");
    if (!certStillGood(cert, this.o.domain, 0)) return null;
    return { cert, key: readFileSync(this.keyFile, "utf8") };
  }

  /** Orders a certificate when the stored one is missing or due; then schedules the next check. */
  private async check(): Promise<void> {
    if (this.stopped) return;
    let next = CHECK_EVERY_MS;
    const cert = existsSync(this.certFile) ? readFileSync(this.certFile, "utf8") : null;
    if (!cert || !certStillGood(cert, this.o.domain, this.o.renewDays)) {
      let pair: TlsPair | null = null;
      try {
        pair = await this.order();
        this.failures = 0;
      } catch (e) {
        this.failures++;
        next = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.failures - 1));
        this.o.log.error("could not get a certificate over ACME; trying again", {
          domain: this.o.domain,
          directory: this.o.directory,
          error: errorText(e),
          retryInSeconds: next / 1000,
        });
      }
      try {
        if (pair && !this.stopped) this.o.onCertificate(pair);
      } catch (e) {
        // e.g. the HTTPS port is taken: the certificate is stored and used on the next start.
        this.o.log.error("cannot serve HTTPS with the new certificate", { domain: this.o.domain, error: errorText(e) });
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.check(), next);
  }

  private async order(): Promise<TlsPair> {
    this.o.log.info("ordering a certificate over ACME", { domain: this.o.domain, directory: this.o.directory });
    // The account URL is kept with its key: registering a known key again makes acme-client send an
    // empty account update, which strict servers (Pebble, RFC 8555) refuse.
    const urlFile = join(this.o.dir, "account.url");
    const accountUrl = existsSync(urlFile) ? readFileSync(urlFile, "utf8").trim() || undefined : undefined;
    const client = new acme.Client({ directoryUrl: this.o.directory, accountKey: await this.accountKey(), accountUrl });
    const [key, csr] = await acme.crypto.createCsr({ commonName: this.o.domain, altNames: [this.o.domain] });
    const cert = await client.auto({
      csr,
      email: this.o.email ?? undefined,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      // acme-client's own pre-check fetches the challenge through public DNS on port 80; the CA checks
      // anyway, and behind NAT or on another ACME_HTTP_PORT the pre-check fails where the CA succeeds.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.challenges.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.challenges.delete(challenge.token);
      },
    });
    if (!accountUrl) this.writeSecret(urlFile, client.getAccountUrl());
    this.writeSecret(this.keyFile, key.toString());
    this.writeSecret(this.certFile, cert);
    const info = acme.crypto.readCertificateInfo(cert);
    this.o.log.info("certificate received", { domain: this.o.domain, notAfter: info.notAfter.toISOString() });
    return { cert, key: key.toString() };
  }

  /** The ACME account's key, made once and kept: the same account orders every renewal. */
  private async accountKey(): Promise<string> {
    const file = join(this.o.dir, "account.key");
    if (existsSync(file)) return readFileSync(file, "utf8");
    const pem = (await acme.crypto.createPrivateEcdsaKey()).toString();
    this.writeSecret(file, pem);
    return pem;
  }

  private writeSecret(file: string, text: string): void {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.challengeServer?.stop();
  }
}

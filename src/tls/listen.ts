// Starts HTTPS from the settings: certificate files (re-read on change or SIGHUP) or ACME.
import { join } from "node:path";
import type { Settings } from "../config.ts";
import { errorText, type Logger } from "../log.ts";
import { AcmeCertificates } from "./acme.ts";
import { readCertPair, watchCertFiles } from "./cert-files.ts";
import { HttpsServer, type HttpsOptions } from "./https-server.ts";

export interface HttpsHandle {
  stop(): Promise<void>;
}

/** Throws (CertError, or a bind error) when HTTPS cannot start with the files given. */
export function startHttps(settings: Settings, handler: Pick<HttpsOptions, "fetch" | "onServer">, log: Logger): HttpsHandle {
  const server = new HttpsServer({ port: settings.port, hostname: settings.host, ...handler });
  const tls = settings.tls;
  if (tls.kind === "files") {
    const first = readCertPair(tls.certFile, tls.keyFile);
    server.use(first);
    log.info("HTTPS certificate loaded", { subject: first.subject, notAfter: first.notAfter.toISOString() });
    const unwatch = watchCertFiles(tls.certFile, tls.keyFile, (why) => {
      try {
        const pair = readCertPair(tls.certFile, tls.keyFile);
        server.use(pair);
        log.info("HTTPS certificate reloaded", { why, subject: pair.subject, notAfter: pair.notAfter.toISOString() });
      } catch (e) {
        log.error("HTTPS certificate not reloaded; the previous one stays in use", { why, error: errorText(e) });
      }
    });
    return { stop: async () => (unwatch(), server.stop()) };
  }
  if (tls.kind === "acme") {
    const certs = new AcmeCertificates({
      ...tls,
      hostname: settings.host,
      dir: join(settings.dataDir, "acme"),
      log,
      onCertificate: (pair) => {
        const first = !server.listening;
        server.use(pair);
        log.info(first ? "HTTPS listening with the ACME certificate" : "HTTPS certificate renewed", { domain: tls.domain });
      },
    });
    certs.start();
    if (!server.listening) log.info("HTTPS starts listening once the ACME certificate arrives", { domain: tls.domain, port: settings.port });
    return { stop: async () => void (await Promise.all([certs.stop(), server.stop()])) };
  }
  throw new Error("startHttps called with TLS off");
}

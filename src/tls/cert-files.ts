// TLS_CERT / TLS_KEY: read, checked as a matching pair, and read again when either file changes (a
// renewal by certbot or by hand) or on SIGHUP. A half-written or mismatched pair keeps the old one.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { TlsPair } from "./https-server.ts";

export class CertError extends Error {}

/** Reads the pair; throws CertError naming what is wrong (never the key's contents). */
export function readCertPair(certFile: string, keyFile: string): TlsPair & { notAfter: Date; subject: string } {
  let cert: string, key: string;
  try {
    cert = readFileSync(certFile, "utf8");
  } catch (e) {
    throw new CertError(`cannot read TLS_CERT ${certFile}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  try {
    key = readFileSync(keyFile, "utf8");
  } catch (e) {
    throw new CertError(`cannot read TLS_KEY ${keyFile}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new CertError(`TLS_CERT ${certFile} is not a PEM certificate`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new CertError(`TLS_KEY ${keyFile} does not belong to the certificate in ${certFile}`);
  } catch (e) {
    if (e instanceof CertError) throw e;
    throw new CertError(`TLS_KEY ${keyFile} is not a PEM private key`);
  }
  return { cert, key, notAfter: new Date(x509.validTo), subject: x509.subject.replaceAll("\n", ", ") };
}

/**
 * Calls `onChange` when either file changes (polled by stat, so a renamed-in file or a moved symlink
 * counts too) and on SIGHUP. Returns a function that stops watching.
 */
export function watchCertFiles(certFile: string, keyFile: string, onChange: (why: string) => void, intervalMs = 2000): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  // Both files usually change within a moment of each other: wait for the second before reading.
  const soon = (why: string) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => ((timer = null), onChange(why)), 300);
  };
  const onCert = () => soon("TLS_CERT changed");
  const onKey = () => soon("TLS_KEY changed");
  const onHup = () => onChange("SIGHUP");
  watchFile(certFile, { interval: intervalMs }, onCert);
  watchFile(keyFile, { interval: intervalMs }, onKey);
  process.on("SIGHUP", onHup);
  return () => {
    unwatchFile(certFile, onCert);
    unwatchFile(keyFile, onKey);
    process.off("SIGHUP", onHup);
    if (timer) clearTimeout(timer);
  };
}

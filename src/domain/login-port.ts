// The messenger-neutral login port: a login is a flow of steps (start → shows a QR and waits / needs a
// code → maybe needs a password → done with a session, or failed). The Telegram implementation lives in
// src/telegram/login.ts; the login service (src/accounts/logins.ts) only sees this interface.

import type { NumberProxy } from "./proxy.ts";

export type LoginMethod = "qr" | "code";

export type LoginStep =
  /** Show `link` as a QR code; it is replaced (onStep fires) whenever the messenger rotates it. */
  | { kind: "waiting_qr"; link: string; expiresAt: number }
  | { kind: "waiting_code"; via: string }
  | { kind: "waiting_password"; hint: string | null }
  /** `session`: the new session as text (a secret: written to a file, never shown or logged). */
  | { kind: "done"; session: string; userId: string }
  | { kind: "failed"; code: string; reason: string };

/** A refusal from the messenger, in words an operator can act on. `retry`: the same step may be tried again. */
export class LoginFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export interface LoginFlow {
  readonly step: LoginStep;
  /** Called on every step change made by the messenger side (a rotated QR, an accepted QR, done, failed). */
  onStep(listener: (step: LoginStep) => void): void;
  /** Throws LoginFailure; with `retry` the flow stays at its step. */
  submitCode(code: string): Promise<LoginStep>;
  submitPassword(password: string): Promise<LoginStep>;
  /** Closes the connection; nothing of the flow stays live. */
  cancel(): Promise<void>;
}

export interface LoginStart {
  method: LoginMethod;
  /** Digits only, international format. */
  phone: string;
  /** The number's own proxy setting (null: TELEGRAM_PROXY, "direct": none). */
  proxy?: NumberProxy;
}

export interface LoginConnector {
  /** Connects and takes the first step; throws LoginFailure when the messenger refuses at once. */
  start(opts: LoginStart): Promise<LoginFlow>;
}

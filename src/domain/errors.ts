// What went wrong, in the core's words. The services throw these; src/http/ alone decides which HTTP
// status each kind answers (http/errors.ts), so no service knows it is behind HTTP.
export type Problem = "bad_input" | "unauthorized" | "forbidden" | "not_found" | "conflict" | "unprocessable" | "too_many" | "unavailable" | "upstream_failed";

export class DomainError extends Error {
  constructor(
    readonly problem: Problem,
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Input that breaks a rule (wrong type, missing, contradicting the token). */
export class BadInput extends DomainError {
  constructor(message: string, field?: string) {
    super("bad_input", message, field);
  }
}

/** No token, or one that opens nothing. */
export class Unauthorized extends DomainError {
  constructor(message: string) {
    super("unauthorized", message);
  }
}

/** A valid token that may not do this (a client token where the admin's is needed). */
export class Forbidden extends DomainError {
  constructor(message: string) {
    super("forbidden", message);
  }
}

/** Unknown — or another client's, which answers the same. */
export class NotFound extends DomainError {
  constructor(message: string, field?: string) {
    super("not_found", message, field);
  }
}

/** Clashes with what exists (a number of another client, a session already running). */
export class Conflict extends DomainError {
  constructor(message: string, field?: string) {
    super("conflict", message, field);
  }
}

/** Well-formed but unusable (a session file missing or unreadable). */
export class Unprocessable extends DomainError {
  constructor(message: string, field?: string) {
    super("unprocessable", message, field);
  }
}

/** The appliance cannot do it as configured now (e.g. TELEGRAM_API_ID unset). */
export class Unavailable extends DomainError {
  constructor(message: string) {
    super("unavailable", message);
  }
}

/** Too many attempts in a while (logins, codes); try again later. */
export class TooMany extends DomainError {
  constructor(message: string, field?: string) {
    super("too_many", message, field);
  }
}

/** A service the appliance depends on (Telegram, during a login) could not be reached. */
export class UpstreamFailed extends DomainError {
  constructor(message: string, field?: string) {
    super("upstream_failed", message, field);
  }
}

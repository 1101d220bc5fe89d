// The states a number can be in, as the management API reports them.
export const ACCOUNT_STATES = ["starting", "connecting", "online", "reconnecting", "stopped", "unauthorized", "banned", "flood_wait", "duplicated", "error"] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];

/** States a number leaves only when the operator changes something (PUT) or starts it again. */
export const SETTLED_STATES: ReadonlySet<string> = new Set(["online", "stopped", "unauthorized", "banned", "duplicated", "error"]);

/** What POST/PUT stop waiting for: it is online, or it will not be without a change or a long wait. */
export const DECIDED_STATES: ReadonlySet<string> = new Set([...SETTLED_STATES, "flood_wait"]);

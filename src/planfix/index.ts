// The Planfix chat API, in plain types: the client (us → Planfix) and the webhook parser (Planfix → us).
export * from "./client.ts";
export * from "./form.ts";
export * from "./webhook.ts";

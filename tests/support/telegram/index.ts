// Loopback Telegram for tests: a real MTProto server on 127.0.0.1 that unmodified GramJS clients use.
export { TelegramServer, stringSession, newAuthKey, tinyPng, LOOPBACK_HOST, type ServerOptions, type Builtins } from "./server.ts";
export { Driver, waitFor, type DriverMessage, type DriverMedia, type PeerTarget, type UserRef, type SendFileOptions } from "./driver.ts";
export { Faults, type FaultRule, type FaultOptions } from "./faults.ts";
export { connectClient, stopClient, silentLogger, ConnectClientError, type ConnectClientOptions, type ServerAddress } from "./client.ts";
export { SERVICE_USER_ID, type UserSpec, type WorldUser, type WorldSession, type WorldChat, type PeerRef } from "./world.ts";
export { makeServerRsaKey, rsaFingerprint, type ServerRsaKey } from "./handshake.ts";
export { Logins, type AuthorizationInfo, type LoginOptions } from "./login.ts";

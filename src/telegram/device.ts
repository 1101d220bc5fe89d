// What the appliance tells Telegram it is (shown in the user's "Active sessions"): settings
// TELEGRAM_DEVICE_MODEL, TELEGRAM_SYSTEM_VERSION, TELEGRAM_APP_VERSION; used for logins and running numbers.
export interface DeviceInfo {
  deviceModel: string;
  systemVersion: string;
  appVersion: string;
}

export function defaultDevice(version: string): DeviceInfo {
  return { deviceModel: "planfix-telegram", systemVersion: `${process.platform} ${process.arch}`, appVersion: version };
}

/** The settings' values where given, the defaults otherwise. */
export function deviceOf(s: { deviceModel: string | null; systemVersion: string | null; appVersion: string | null }, version: string): DeviceInfo {
  const d = defaultDevice(version);
  return { deviceModel: s.deviceModel ?? d.deviceModel, systemVersion: s.systemVersion ?? d.systemVersion, appVersion: s.appVersion ?? d.appVersion };
}

// GramJS's logger, silenced: everything it says goes to our logger at debug, and GramJS's own
// `console.error(err)` calls (guarded by canSend) never fire.
import { Logger, LogLevel } from "telegram/extensions/Logger";
import { redact, type Logger as OurLogger } from "../log.ts";

export class RoutedGramLogger extends Logger {
  constructor(private readonly sink: OurLogger) {
    super(LogLevel.NONE);
  }

  override canSend(_level: LogLevel): boolean {
    return false;
  }

  override error(message: string): void {
    this.sink.debug("gramjs", { gramLevel: "error", text: redact(String(message)) });
  }

  override warn(message: string): void {
    this.sink.debug("gramjs", { gramLevel: "warn", text: redact(String(message)) });
  }

  override info(message: string): void {
    this.sink.debug("gramjs", { gramLevel: "info", text: redact(String(message)) });
  }

  override debug(message: string): void {
    this.sink.debug("gramjs", { gramLevel: "debug", text: redact(String(message)) });
  }
}

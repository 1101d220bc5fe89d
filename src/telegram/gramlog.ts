// GramJS's logger, silenced: everything it says goes to our logger at debug, and GramJS's own
// `console.error(err)` calls (guarded by canSend) never fire. GramJS talks on every packet, so the
// text is redacted only if the line is actually written (a getter our logger reads after its level check).
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
    this.sink.debug("gramjs", lazyText("error", message));
  }

  override warn(message: string): void {
    this.sink.debug("gramjs", lazyText("warn", message));
  }

  override info(message: string): void {
    this.sink.debug("gramjs", lazyText("info", message));
  }

  override debug(message: string): void {
    this.sink.debug("gramjs", lazyText("debug", message));
  }
}

function lazyText(gramLevel: string, message: unknown): { gramLevel: string; text: string } {
  return {
    gramLevel,
    get text() {
      return redact(String(message));
    },
  };
}

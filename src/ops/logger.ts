/** The process logger: pino JSON lines on stdout; LOG_LEVEL sets the level (default info). */
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'telgate' } });
}

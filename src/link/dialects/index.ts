/** The dialects by name. */
import { ASTERISK_INFO, asteriskDialect } from './asterisk.js';
import type { Dialect, DialectInfo, DialectName } from './dialect.js';
import { TELPHI_INFO, telphiDialect } from './telphi.js';
import { TWILIO_INFO, twilioDialect } from './twilio.js';

export function createDialect(name: DialectName): { dialect: Dialect; info: DialectInfo } {
  switch (name) {
    case 'telphi':
      return { dialect: telphiDialect(), info: TELPHI_INFO };
    case 'asterisk':
      return { dialect: asteriskDialect(), info: ASTERISK_INFO };
    case 'twilio':
      return { dialect: twilioDialect(), info: TWILIO_INFO };
  }
}

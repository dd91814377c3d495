/**
 * INVITE → endpoint: the Request-URI user part normalised to E.164 digits, split into the
 * longest matching base number and the extension digits after it.
 */
import type { BaseNumberConfig, EndpointConfig, TelgateConfig } from './config-schema.js';

export type RouteResult =
  | {
      ok: true;
      endpoint: EndpointConfig;
      baseNumber: BaseNumberConfig;
      extension?: string;
      dialed: string;
    }
  | { ok: false; cause: 'unknown-number' | 'extension-missing'; dialed: string };

export class Router {
  private readonly bases: BaseNumberConfig[];

  constructor(private readonly config: TelgateConfig) {
    // Longest base number first, so "+1555010" never shadows "+15550100".
    this.bases = [...config.baseNumbers].sort((a, b) => b.number.length - a.number.length);
  }

  resolve(requestUri: string): RouteResult {
    const dialed = dialedDigits(requestUri);
    for (const base of this.bases) {
      const baseDigits = base.number.slice(1);
      if (!dialed.startsWith(baseDigits)) continue;
      const rest = dialed.slice(baseDigits.length);
      if (!base.extensions) {
        if (rest) continue;
        const endpoint = this.config.endpoints.find((e) => e.baseNumber === base.number);
        if (endpoint) return { ok: true, endpoint, baseNumber: base, dialed };
        return { ok: false, cause: 'unknown-number', dialed };
      }
      if (!rest) return { ok: false, cause: 'extension-missing', dialed };
      const endpoint = this.config.endpoints.find(
        (e) => e.baseNumber === base.number && e.extension === rest,
      );
      if (endpoint) return { ok: true, endpoint, baseNumber: base, extension: rest, dialed };
      return { ok: false, cause: 'unknown-number', dialed };
    }
    return { ok: false, cause: 'unknown-number', dialed };
  }
}

/** The digits of a sip: or tel: URI's user part, visual separators and '+' removed. */
export function dialedDigits(uri: string): string {
  const m = /^(?:sips?|tel):([^@;?]*)/i.exec(uri.trim());
  const user = m ? m[1] : '';
  let decoded = user;
  try {
    decoded = decodeURIComponent(user);
  } catch {
    // keep the raw text
  }
  return decoded
    .replace(/[\s().-]/g, '')
    .replace(/^\+/, '')
    .replace(/[^0-9]/g, (ch) => (ch ? '#' : ''));
}

/**
 * The dialed number of an INVITE, normalised to E.164 digits (without '+'), and an extension
 * carried beside it: `;ext=` on a tel: URI or in a sip: user part (RFC 3966 §5.2).
 */

export interface NumberRules {
  countryCode?: string;
  internationalPrefix: string;
  nationalPrefix: string;
}

export interface Dialed {
  /** E.164 digits without '+', or the raw user part when it is not a number. */
  digits: string;
  /** The user part as sent (decoded), for slug routing and logs. */
  user: string;
  extension?: string;
}

export function dialedNumber(uri: string, rules: NumberRules): Dialed {
  const m = /^(?:sips?|tel):([^@?]*)/i.exec(uri.trim());
  let user = m ? m[1] : '';
  try {
    user = decodeURIComponent(user);
  } catch {
    // keep the raw text
  }
  const [number, ...params] = user.split(';');
  const ext = params.map((p) => /^ext=(\d+)$/i.exec(p.trim())?.[1]).find(Boolean);
  const compact = number.replace(/[\s().-]/g, '');
  return { digits: toE164Digits(compact, rules), user: number, extension: ext };
}

/** '+' numbers as they are; the international prefix stripped; national ones given the country code. */
function toE164Digits(text: string, rules: NumberRules): string {
  if (text.startsWith('+')) return text.slice(1);
  if (!/^\d+$/.test(text) || !rules.countryCode) return text;
  if (rules.internationalPrefix && text.startsWith(rules.internationalPrefix)) {
    return text.slice(rules.internationalPrefix.length);
  }
  if (rules.nationalPrefix && text.startsWith(rules.nationalPrefix)) {
    return rules.countryCode + text.slice(rules.nationalPrefix.length);
  }
  return text;
}

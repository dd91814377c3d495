/**
 * Where an agent may send a caller: the endpoint's transfer policy. A refused target never
 * leaves telgate; the reason goes back to the agent.
 *
 * Order: a `deny` pattern refuses; a premium-rate number is refused unless `allowPremium`,
 * whatever `allow` says (a broad pattern such as `+1*` must not open +1900 by accident); an
 * `allow` pattern accepts (it also lifts the international default); then numbers abroad
 * (another country code than the egress base number's) are refused unless
 * `allowInternational`; and when `allow` is not empty, anything it does not match is refused. SIP URIs that are not a phone number are
 * accepted only when an allow pattern names them exactly.
 */

import type { CallEndpointConfig } from './config-parts.js';

export interface TransferPolicy {
  allow: string[];
  deny: string[];
  allowInternational?: boolean;
  allowPremium?: boolean;
}

/** An endpoint's transfer policy (none allows nothing but the defaults' checks). */
export function transferPolicyOf(endpoint: CallEndpointConfig): TransferPolicy {
  const transfer = endpoint.transfer;
  return {
    allow: transfer?.allow ?? [],
    deny: transfer?.deny ?? [],
    allowInternational: transfer?.allowInternational,
    allowPremium: transfer?.allowPremium,
  };
}

export type PolicyVerdict = { ok: true; number?: string } | { ok: false; reason: string };

/**
 * Premium-rate ranges (E.164 prefixes) refused by default: North America's 900/976, the UK's
 * 09 and 087, Germany's 0900 and 0137, France's 089, Italy's 899, Spain's 803/806/807,
 * Austria's and Switzerland's and the Netherlands' and Belgium's 0900, Australia's 190.
 */
export const PREMIUM_PREFIXES = [
  '+1900',
  '+1976',
  '+449',
  '+4487',
  '+49900',
  '+49137',
  '+3389',
  '+39899',
  '+34803',
  '+34806',
  '+34807',
  '+43900',
  '+41900',
  '+31900',
  '+32900',
  '+61190',
];

/** ITU-T E.164 country codes of one and two digits; every other code has three. */
const SHORT_CODES = new Set([
  '1',
  '7',
  '20',
  '27',
  '30',
  '31',
  '32',
  '33',
  '34',
  '36',
  '39',
  '40',
  '41',
  '43',
  '44',
  '45',
  '46',
  '47',
  '48',
  '49',
  '51',
  '52',
  '53',
  '54',
  '55',
  '56',
  '57',
  '58',
  '60',
  '61',
  '62',
  '63',
  '64',
  '65',
  '66',
  '81',
  '82',
  '84',
  '86',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '98',
]);

/** The country code of an E.164 number (`+4930…` → `49`). */
export function countryCodeOf(e164: string): string {
  const digits = e164.replace(/^\+/, '');
  if (SHORT_CODES.has(digits.slice(0, 1))) return digits.slice(0, 1);
  if (SHORT_CODES.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

function matches(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

/** The phone number a target names: E.164, or a `sip:`/`tel:` URI whose user part is one. */
export function targetNumber(target: string): string | undefined {
  const user = /^(?:sips?:|tel:)?(\+?\d{3,15})(?:[@;].*)?$/.exec(target.trim())?.[1];
  if (!user) return undefined;
  return user.startsWith('+') ? user : undefined;
}

export function checkTransferTarget(
  target: string,
  policy: TransferPolicy,
  egressNumber: string,
): PolicyVerdict {
  const number = targetNumber(target);
  if (!number) {
    return policy.allow.includes(target)
      ? { ok: true }
      : { ok: false, reason: `${target} is not an E.164 number and not explicitly allowed` };
  }
  const denied = policy.deny.find((p) => matches(p, number));
  if (denied) return { ok: false, reason: `${number} is denied by ${denied}` };
  const premium = PREMIUM_PREFIXES.find((p) => number.startsWith(p));
  if (premium && !policy.allowPremium) {
    return { ok: false, reason: `${number} is a premium-rate number (${premium}…)` };
  }
  if (policy.allow.some((p) => matches(p, number))) return { ok: true, number };
  const home = countryCodeOf(egressNumber);
  if (countryCodeOf(number) !== home && !policy.allowInternational) {
    return { ok: false, reason: `${number} is international (egress country code +${home})` };
  }
  if (policy.allow.length) return { ok: false, reason: `${number} matches no allow pattern` };
  return { ok: true, number };
}

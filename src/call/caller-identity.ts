/**
 * Who the caller is, as far as telgate can vouch for it, and what it passes on when the call
 * leaves through an egress trunk (a transfer):
 *   - an asserted identity only when telgate verified it: an authenticated device (as the
 *     number it sends as, `tel:+…`, else `sip:<username>@<realm>`), or the P-Asserted-Identity
 *     (else From) of a trunk marked `trusted`; normalised to user@host with no port or
 *     parameters. Anything else (a raw From with its address and port) is never asserted
 *     (RFC 3325 §9.1: a trust domain asserts what it checked);
 *   - a device's `send_as` and `caller_id` become the From number and display name of its
 *     calls' egress legs (`random`: one of the config's base numbers, chosen per call);
 *   - `Privacy: id` from the caller is honoured: it travels with the identity, so the next hop
 *     withholds it (RFC 3323);
 *   - Diversion (RFC 5806) names the number the caller dialed as the diverting party;
 *     History-Info (RFC 7044) lists that number at index 1 (with the 302-style Reason of a
 *     retargeting) and the transfer target at index 1.1, mapped (`mp=1`);
 *   - STIR/SHAKEN: the trunk's verification result (`verstat` on P-Asserted-Identity or From,
 *     the `Identity` header of RFC 8224 present or not) goes to the agent with the call.
 */
import type { InviteView } from '../sip/engine.js';
import { parseNameAddr, parseUri } from '../sip/uri.js';

export interface CallerIdentity {
  /** The identity telgate vouches for, `sip:user@host` or `tel:+…`; none when unverified. */
  asserted?: string;
  /** The caller asked for privacy (`Privacy: id`, or `header`/`user`). */
  privacy: boolean;
  /** The trunk's STIR/SHAKEN result: TN-Validation-Passed, TN-Validation-Failed, No-TN-Validation. */
  verstat?: string;
  /** The INVITE carried an RFC 8224 Identity header. */
  signed: boolean;
  /** How egress legs present the caller: a device's send_as number and caller_id name. */
  presentAs?: { number?: string; display?: string };
}

/** An authenticated device, as its config presents it. */
export interface VouchedDevice {
  device: string;
  host: string;
  /** Its `send_as`, `random` already resolved to a number. */
  sendAs?: string;
  callerId?: string;
}

/** The identity of `invite`: asserted when `vouched` names how telgate knows it. */
export function callerIdentityOf(
  invite: Pick<InviteView, 'from' | 'header'>,
  vouched: VouchedDevice | { trustedTrunk: true } | undefined,
): CallerIdentity {
  const pai = invite.header('p-asserted-identity');
  const privacyHeader = invite.header('privacy') ?? '';
  const verstat = /;\s*verstat=([A-Za-z0-9-]+)/i.exec(pai ?? invite.from)?.[1];
  let asserted: string | undefined;
  let presentAs: CallerIdentity['presentAs'];
  if (vouched && 'device' in vouched) {
    asserted = vouched.sendAs ? `tel:${vouched.sendAs}` : `sip:${vouched.device}@${vouched.host}`;
    if (vouched.sendAs || vouched.callerId) {
      presentAs = {
        ...(vouched.sendAs && { number: vouched.sendAs }),
        ...(vouched.callerId && { display: vouched.callerId }),
      };
    }
  } else if (vouched) asserted = plainUri(parseNameAddr(pai ?? invite.from)?.uri);
  return {
    asserted,
    privacy: /(^|[;\s])(id|header|user)($|[;\s])/i.test(privacyHeader),
    verstat,
    signed: invite.header('identity') !== undefined,
    ...(presentAs && { presentAs }),
  };
}

/** `sip:user@host` of a URI (no port, parameters or headers), `tel:` as is. */
function plainUri(uri: string | undefined): string | undefined {
  const parsed = uri ? parseUri(uri) : undefined;
  if (!parsed) return undefined;
  if (parsed.scheme === 'tel') return `tel:${parsed.user ?? parsed.host}`;
  return parsed.user ? `${parsed.scheme}:${parsed.user}@${parsed.host}` : undefined;
}

/** The headers an egress leg carries about the original call, as the trunk wants them. */
export function egressIdentityHeaders(
  mode: 'pai' | 'diversion' | 'history-info' | 'none',
  identity: CallerIdentity,
  dialed: string,
  trunkHost: string,
  targetUri: string,
): Array<[string, string]> {
  const number = dialed.startsWith('+') ? dialed : `+${dialed}`;
  const privacy: Array<[string, string]> = identity.privacy ? [['privacy', 'id']] : [];
  switch (mode) {
    case 'pai':
      return identity.asserted
        ? [['p-asserted-identity', `<${identity.asserted}>`], ...privacy]
        : privacy;
    case 'diversion':
      return [
        ['diversion', `<sip:${number}@${trunkHost}>;reason=unconditional;counter=1`],
        ...privacy,
      ];
    case 'history-info':
      return [
        [
          'history-info',
          `<sip:${number}@${trunkHost}?Reason=SIP%3Bcause%3D302>;index=1, <${targetUri}>;index=1.1;mp=1`,
        ],
        ...privacy,
      ];
    case 'none':
      return privacy;
  }
}

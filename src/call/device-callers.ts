/**
 * Calls from registered SIP devices: an INVITE whose From names a device (and that does not
 * come from a trunk's addresses, whose calls keep their ACLs) is challenged with 407 and checked
 * against the device's HA1, as its REGISTER is; authenticated, it reaches the device's handler
 * endpoint, negotiated with the device's own codecs, encryption and ciphers. Failures count
 * against the source like the registrar's.
 */
import type { TelgateConfig } from '../routing/config-schema.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
import type { IncomingInvite, Rejection } from '../sip/engine.js';
import { parseCredentials } from '../sip/digest-server.js';
import { parseNameAddr, parseUri } from '../sip/uri.js';
import { algorithmsOf, type Registrar } from './registrar.js';

export type DeviceVerdict =
  /** Not a device's call: routed as a trunk call. */
  | undefined
  /** Authenticated: the device's handler endpoint takes it. */
  | { endpoint: CallEndpointConfig; device: string; dialed: string }
  /** Challenged, refused or ignored: answered with this. */
  | { rejection: Rejection; why: string };

export function deviceCall(
  invite: IncomingInvite,
  config: TelgateConfig,
  registrar: Registrar,
  fromTrunk: (source: string) => boolean,
): DeviceVerdict {
  const user = parseUri(parseNameAddr(invite.from)?.uri ?? '')?.user;
  const device = user ? registrar.device(user) : undefined;
  if (!device || fromTrunk(invite.source.address)) return undefined;
  const source = invite.source.address;
  if (registrar.blocked(source)) {
    return { rejection: { status: 403 }, why: 'source blocked after failed authentications' };
  }
  const verdict = registrar.digestServer.verify(
    parseCredentials(invite.header('proxy-authorization')),
    'INVITE',
    (username) => registrar.ha1(username),
  );
  if (!verdict.ok && verdict.why !== 'refused') {
    const challenges = registrar.digestServer.challenges(
      algorithmsOf(device),
      verdict.why === 'stale',
    );
    return {
      rejection: {
        status: 407,
        headers: challenges.map((c): [string, string] => ['proxy-authenticate', c]),
      },
      why: 'challenged',
    };
  }
  if (!verdict.ok || verdict.username !== device.username) {
    registrar.failed(source);
    const why = verdict.ok ? `${verdict.username} is not ${device.username}` : verdict.detail;
    return { rejection: { status: 403 }, why };
  }
  const endpoint = config.endpoints.find(
    (e): e is CallEndpointConfig => e.id === device.handler.endpoint && e.kind !== 'web-chat',
  );
  if (!endpoint) {
    return {
      rejection: {
        status: 404,
        headers: [['reason', 'SIP ;cause=404 ;text="the device has no handler endpoint"']],
      },
      why: 'no handler endpoint',
    };
  }
  const dialed = parseUri(invite.requestUri)?.user ?? '';
  // The device's own media settings govern its leg: its codecs, and its SRTP policy and suites.
  const media = {
    codecs: device.codecs,
    encryption: device.encryption,
    ciphers: device.ciphers,
  };
  return { endpoint: { ...endpoint, ...media }, device: device.username, dialed };
}

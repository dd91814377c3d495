/**
 * INVITE → endpoint. The dialed number (Request-URI or To, per `routing.numberFrom`) is
 * normalised to E.164 and split into the longest matching base number and an extension: the
 * digits after the base number, else a `;ext=` parameter, else the configured header. A user
 * part that is a web-voice endpoint's slug reaches that endpoint. Each refusal is a typed cause.
 */
import type { AgentConfig } from './config-telephony.js';
import { AddressList } from './acl.js';
import type {
  BaseNumberConfig,
  CallEndpointConfig,
  EndpointConfig,
  LinkFormatName,
  TrunkConfig,
} from './config-parts.js';
import type { TelgateConfig } from './config-schema.js';
import { dialedNumber } from './number.js';

export type RouteRefusal =
  | 'unknown-number'
  | 'extension-missing'
  | 'not-active'
  | 'source-not-allowed'
  | 'origin-not-allowed'
  | 'web-access-unset'
  | 'web-chat-only';

export interface RouteInput {
  requestUri: string;
  to: string;
  /** The address the INVITE came from. */
  source: string;
  /** It came over TLS with a client certificate the CAs signed. */
  clientCertified?: boolean;
  /** A browser's call (SIP over WebSocket): the Origin of the page that opened the socket. */
  browser?: { origin: string | undefined };
  header(name: string): string | undefined;
}

export type RouteResult =
  | {
      ok: true;
      endpoint: CallEndpointConfig;
      baseNumber?: BaseNumberConfig;
      trunk?: TrunkConfig;
      extension?: string;
      dialed: string;
    }
  | { ok: false; cause: RouteRefusal; dialed: string };

export class Router {
  private readonly bases: BaseNumberConfig[];
  private readonly trunks = new Map<string, { trunk: TrunkConfig; acl?: AddressList }>();
  private readonly webAcls = new Map<string, AddressList>();

  constructor(
    private readonly config: TelgateConfig,
    /** Web-voice endpoints beside the config's (temporary test endpoints). */
    private readonly extraEndpoints: () => readonly EndpointConfig[] = () => [],
  ) {
    // Longest base number first, so "+1555010" never shadows "+15550100".
    this.bases = [...config.baseNumbers].sort((a, b) => b.number.length - a.number.length);
    for (const trunk of config.trunks) {
      const acl = trunk.inbound ? new AddressList(trunk.inbound.allow) : undefined;
      this.trunks.set(trunk.id, { trunk, acl });
    }
    for (const ep of config.endpoints) {
      if (ep.kind === 'web-voice' && ep.allowedIps.length) {
        this.webAcls.set(ep.id, new AddressList(ep.allowedIps));
      }
    }
  }

  /** Whether `source` is inside a trunk's inbound ACL (its calls are the trunk's, not a device's). */
  fromTrunk(source: string): boolean {
    for (const { acl } of this.trunks.values()) if (acl?.allows(source)) return true;
    return false;
  }

  resolve(input: RouteInput): RouteResult {
    const routing = this.config.routing;
    const uri = routing.numberFrom === 'to' ? uriOf(input.to) : input.requestUri;
    const dialed = dialedNumber(uri, routing);
    const slug = dialed.user.toLowerCase();
    const bySlug =
      this.config.endpoints.find((e) => e.kind !== 'phone' && e.slug === slug) ??
      this.extraEndpoints().find((e) => e.kind !== 'phone' && e.slug === slug);
    if (bySlug) return this.webEndpoint(bySlug, input, dialed.user);

    for (const base of this.bases) {
      const baseDigits = base.number.slice(1);
      if (!dialed.digits.startsWith(baseDigits)) continue;
      const entry = base.trunk ? this.trunks.get(base.trunk) : undefined;
      if (entry?.acl && !entry.acl.allows(input.source)) {
        return { ok: false, cause: 'source-not-allowed', dialed: dialed.digits };
      }
      if (entry?.trunk.inbound?.requireClientCert && !input.clientCertified) {
        return { ok: false, cause: 'source-not-allowed', dialed: dialed.digits };
      }
      const rest = dialed.digits.slice(baseDigits.length);
      const extension = base.extensions
        ? rest || dialed.extension || headerExtension(input, routing.extensionHeader)
        : undefined;
      if (!base.extensions && rest) continue;
      if (base.extensions && !extension) {
        return { ok: false, cause: 'extension-missing', dialed: dialed.digits };
      }
      const endpoint = this.config.endpoints.find(
        (e) => e.kind === 'phone' && e.baseNumber === base.number && e.extension === extension,
      );
      if (!endpoint || endpoint.kind !== 'phone') break;
      if (!isActive(endpoint)) return { ok: false, cause: 'not-active', dialed: dialed.digits };
      return {
        ok: true,
        endpoint,
        baseNumber: base,
        trunk: entry?.trunk,
        extension,
        dialed: dialed.digits,
      };
    }
    return { ok: false, cause: 'unknown-number', dialed: dialed.digits };
  }

  private webEndpoint(endpoint: EndpointConfig, input: RouteInput, dialed: string): RouteResult {
    if (endpoint.kind === 'web-chat') return { ok: false, cause: 'web-chat-only', dialed };
    if (endpoint.kind !== 'web-voice') return { ok: false, cause: 'unknown-number', dialed };
    const acl = this.webAcls.get(endpoint.id);
    if (acl && !acl.allows(input.source)) {
      return { ok: false, cause: 'source-not-allowed', dialed };
    }
    if (input.browser) {
      const origins = endpoint.allowedOrigins;
      if (!origins.length && !acl && !endpoint.allowAnywhere) {
        return { ok: false, cause: 'web-access-unset', dialed };
      }
      if (origins.length && !originAllowed(input.browser.origin, origins)) {
        return { ok: false, cause: 'origin-not-allowed', dialed };
      }
    }
    if (!isActive(endpoint)) return { ok: false, cause: 'not-active', dialed };
    return { ok: true, endpoint, dialed };
  }
}

/** Whether a page's Origin header is one of `allowed` (origins compared as URL origins). */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return false;
  let asked: string;
  try {
    asked = new URL(origin).origin;
  } catch {
    return false;
  }
  return allowed.some((entry) => {
    try {
      return new URL(entry).origin === asked;
    } catch {
      return false;
    }
  });
}

/** An endpoint takes calls only once its flow has a published version. */
export function isActive(endpoint: CallEndpointConfig): boolean {
  const flow = endpoint.flow;
  return flow?.publishedVersion !== undefined || (!!flow && 'draftVersion' in flow);
}

/** The flow version a call to `endpoint` runs, as the agent's session request names it. */
export function flowOf(
  endpoint: CallEndpointConfig,
): { id: string; version: number; draft: boolean } | undefined {
  const flow = endpoint.flow;
  if (!flow) return undefined;
  const draft = 'draftVersion' in flow ? flow.draftVersion : undefined;
  const version = draft ?? flow.publishedVersion;
  return version === undefined ? undefined : { id: flow.id, version, draft: draft !== undefined };
}

function headerExtension(input: RouteInput, name: string | undefined): string | undefined {
  const value = name ? input.header(name)?.trim() : undefined;
  return value && /^\d{1,8}$/.test(value) ? value : undefined;
}

function uriOf(nameAddr: string): string {
  return /<([^>]*)>/.exec(nameAddr)?.[1] ?? nameAddr.split(';')[0].trim();
}

/** The agent link format: the endpoint's pin, else its provider's native format, else slin. */
/** A provider call's link format: as linkFormatFor, from the agent's own settings. */
export function agentLinkFormat(agent: AgentConfig, config: TelgateConfig): LinkFormatName {
  if (agent.link?.dialect === 'twilio') return 'ulaw';
  const provider = agent.provider ? config.providers[agent.provider] : undefined;
  return agent.audio?.linkFormat ?? provider?.nativeFormat ?? 'slin';
}

export function linkFormatFor(endpoint: CallEndpointConfig, config: TelgateConfig): LinkFormatName {
  // Twilio Media Streams carry µ-law 8 kHz only.
  if (endpoint.kind === 'phone' && endpoint.link?.dialect === 'twilio') return 'ulaw';
  const pinned = endpoint.kind === 'phone' ? endpoint.audio?.linkFormat : undefined;
  const provider = endpoint.provider ? config.providers[endpoint.provider] : undefined;
  return pinned ?? provider?.nativeFormat ?? 'slin';
}

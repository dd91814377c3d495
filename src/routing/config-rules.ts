/**
 * Cross-field rules of the config model, reported through zod's issue channel so every problem
 * names its path: references between trunks, base numbers, providers and endpoints, and the
 * uniqueness of ids, extensions, slugs and device usernames; a device's handler and send_as.
 */
import type { z } from 'zod';
import type { BaseNumberConfig, EndpointConfig, TrunkConfig } from './config-parts.js';

interface ReferencedParts {
  localAgent: { enabled: boolean };
  providers: Record<string, unknown>;
  trunks: TrunkConfig[];
  baseNumbers: BaseNumberConfig[];
  endpoints: EndpointConfig[];
  agents: Array<{ name: string; provider?: string }>;
  devices: Array<{ username: string; sendAs?: string; handler: { endpoint?: string } }>;
}

type Path = Array<string | number>;

export function checkReferences(cfg: ReferencedParts, ctx: z.RefinementCtx): void {
  const problem = (path: Path, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const trunks = new Map(cfg.trunks.map((t) => [t.id, t]));
  unique(
    cfg.trunks.map((t) => t.id),
    ['trunks'],
    'id',
    'trunk id',
    problem,
  );
  unique(
    cfg.baseNumbers.map((b) => b.number),
    ['baseNumbers'],
    'number',
    'base number',
    problem,
  );
  unique(
    cfg.endpoints.map((e) => e.id),
    ['endpoints'],
    'id',
    'endpoint id',
    problem,
  );
  unique(
    cfg.agents.map((a) => a.name),
    ['agents'],
    'name',
    'agent name',
    problem,
  );
  const slugs = cfg.endpoints.map((e) => (e.kind === 'phone' ? undefined : e.slug));
  unique(slugs, ['endpoints'], 'slug', 'slug', problem);

  cfg.baseNumbers.forEach((b, i) => {
    if (b.trunk && !trunks.has(b.trunk)) {
      problem(['baseNumbers', i, 'trunk'], `unknown trunk ${b.trunk}${known(trunks.keys())}`);
    }
  });

  const bases = new Map(cfg.baseNumbers.map((b) => [b.number, b]));
  const providers = Object.keys(cfg.providers);
  cfg.agents.forEach((a, i) => {
    if (a.provider && !providers.includes(a.provider)) {
      problem(['agents', i, 'provider'], `unknown provider ${a.provider}${known(providers)}`);
    }
  });
  const extensions = new Set<string>();
  cfg.endpoints.forEach((ep, i) => {
    const path: Path = ['endpoints', i];
    if (ep.kind !== 'web-chat' && ep.provider && !providers.includes(ep.provider)) {
      problem([...path, 'provider'], `unknown provider ${ep.provider}${known(providers)}`);
    }
    if (ep.kind === 'web-voice' && ep.egressBaseNumber) {
      checkEgress(ep.egressBaseNumber, [...path, 'egressBaseNumber']);
    }
    if (ep.kind !== 'phone') return;
    const base = bases.get(ep.baseNumber);
    if (!base) {
      problem(
        [...path, 'baseNumber'],
        `unknown base number ${ep.baseNumber}${known(bases.keys())}`,
      );
      return;
    }
    if (base.extensions && !ep.extension) {
      problem(
        [...path, 'extension'],
        `base number ${ep.baseNumber} has extensions: an extension code is required`,
      );
    }
    if (!base.extensions && ep.extension) {
      problem([...path, 'extension'], `base number ${ep.baseNumber} has no extensions`);
    }
    const key = `${ep.baseNumber}/${ep.extension ?? ''}`;
    if (extensions.has(key)) {
      const what = ep.extension ? `extension ${ep.extension}` : 'the base number';
      problem(
        [...path, 'extension'],
        `${what} of ${ep.baseNumber} is already used by another endpoint`,
      );
    }
    extensions.add(key);
    if (ep.egressBaseNumber) checkEgress(ep.egressBaseNumber, [...path, 'egressBaseNumber']);
    const link = ep.link;
    if (link?.dialect === 'telphi' && link.url) {
      problem([...path, 'link', 'url'], 'the telphi dialect connects where TelAPI says: no url');
    }
    if (link && link.dialect !== 'telphi' && !link.url && !cfg.localAgent.enabled) {
      problem(
        [...path, 'link', 'url'],
        `the ${link.dialect} dialect needs the agent's url (or the local agent enabled)`,
      );
    }
  });

  unique(
    cfg.devices.map((d) => d.username),
    ['devices'],
    'username',
    'device username',
    problem,
  );
  const endpointIds = new Set(cfg.endpoints.map((e) => e.id));
  cfg.devices.forEach((d, i) => {
    const handler = d.handler.endpoint;
    if (handler && !endpointIds.has(handler)) {
      problem(['devices', i, 'handler', 'endpoint'], `unknown endpoint ${handler}`);
    }
    // A device presents only a number the team owns: a trunk would carry any other as spoofed.
    if (d.sendAs && d.sendAs !== 'random' && !bases.has(d.sendAs)) {
      problem(['devices', i, 'sendAs'], `${d.sendAs} is not a base number${known(bases.keys())}`);
    }
  });

  function checkEgress(number: string, path: Path): void {
    const base = bases.get(number);
    if (!base) return problem(path, `unknown egress base number ${number}${known(bases.keys())}`);
    const trunk = base.trunk ? trunks.get(base.trunk) : undefined;
    if (!trunk?.outbound) {
      problem(path, `egress base number ${number} has no trunk with an outbound side`);
    }
  }
}

function unique(
  values: Array<string | undefined>,
  listPath: Path,
  field: string,
  what: string,
  problem: (path: Path, message: string) => void,
): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (value === undefined) return;
    if (seen.has(value)) problem([...listPath, i, field], `duplicate ${what} ${value}`);
    seen.add(value);
  });
}

function known(names: Iterable<string>): string {
  const list = [...names];
  return list.length ? ` (known: ${list.join(', ')})` : ' (none is configured)';
}

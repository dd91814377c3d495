/**
 * The agent's transfers (docs/link-protocol.md §3, docs/config.md): the target is checked
 * against the endpoint's policy before anything leaves telgate, then
 *   blind:   REFER to the caller's side; its NOTIFY progress goes to the agent; on success
 *            telgate ends its part of the call, on failure the call goes on with the agent;
 *   bridged: a new INVITE through the egress trunk (digest auth, the egress base number as
 *            caller ID, P-Asserted-Identity (only of a verified caller), Diversion or
 *            History-Info as the trunk says: caller-identity.ts); the caller hears ringback
 *            meanwhile; on answer the two legs are bridged inside telgate and the agent's session ends (or keeps listening);
 *            busy, no answer or failure: the agent is told and the caller stays with it.
 *   warm:    as bridged, but on answer the agent talks to the target alone while the caller
 *            waits in silence; the agent then completes (caller and target bridged, the agent
 *            leaves) or cancels (the target leg ends, the caller is back with the agent).
 */
import type { Logger } from 'pino';
import type { GatewayMessage, TransferRequest, TransferState } from '../link/protocol.js';
import { checkTransferTarget, type TransferPolicy } from '../routing/transfer-policy.js';
import type { OutgoingInviteRequest, SipDialog } from '../sip/engine.js';
import type { SipTransport } from '../sip/message.js';
import { isWebSocket } from '../sip/uri.js';
import { egressIdentityHeaders, type CallerIdentity } from './caller-identity.js';
import { OutboundLeg, type LegDeps } from './leg.js';
import type { MediaSecurity } from './session-description.js';
import type { SipCodecName } from '../codecs/negotiate.js';
import type { SrtpSuite } from '../media/srtp-keys.js';

/** Where bridged and blind transfers leave: the endpoint's egress base number and its trunk. */
export interface EgressRoute {
  /** The egress base number: the caller ID the target sees. */
  number: string;
  host: string;
  port: number;
  transport: SipTransport;
  credentials?: { username: string; password: string };
  callerIdentity: 'pai' | 'diversion' | 'history-info' | 'none';
  /** Takes a slot of the trunk's cap; undefined when the trunk is full (or unreachable). */
  acquireSlot(): Promise<{ release(): void } | undefined>;
}

/** A registered device as a transfer target: where each of its bindings is reached. */
export interface DeviceTarget {
  username: string;
  /** Its media: codecs, and SRTP (`required`: offered over TLS bindings, refused otherwise). */
  codecs: readonly SipCodecName[];
  encryption: 'optional' | 'required';
  ciphers: readonly SrtpSuite[];
  bindings: Array<{
    contact: string;
    source: { transport: SipTransport; address: string; port: number };
  }>;
}

export interface TransferHost {
  log: Logger;
  /**
   * The registered device `target` names (`sip:<username>`), when it is one agents may transfer
   * to; undefined for any other target.
   */
  findDevice(target: string): Promise<DeviceTarget | undefined>;
  policy: TransferPolicy;
  egress: EgressRoute | undefined;
  /** The caller as it reached telgate (its From URI). */
  callerUri: string;
  /** What telgate vouches for about the caller (caller-identity.ts). */
  identity: CallerIdentity;
  /** The number the caller dialed: the diverting party of a transfer. */
  dialed: string;
  agentListens: boolean;
  legDeps: LegDeps;
  callerDialog(): SipDialog | undefined;
  report(message: GatewayMessage): void;
  /** The caller hears ringback (true) or the agent again (false). */
  ringback(on: boolean): void;
  /** Joins the caller to an answered leg; the agent leaves unless it listens. */
  bridge(leg: OutboundLeg): void;
  /** Warm transfer: the agent and the leg hear each other, the caller waits (or not: null). */
  consult(leg: OutboundLeg | null): void;
  /** Ends the call after a blind transfer succeeded. */
  handedOver(): void;
}

type Progress = (state: TransferState, extra?: { sipStatus?: number; reason?: string }) => void;

export class TransferController {
  private active = false;
  leg: OutboundLeg | undefined;
  /** The legs of a forked transfer while they ring (one per binding of a device). */
  private forks: OutboundLeg[] = [];
  private slot: { release(): void } | undefined;
  /** A warm transfer's answered leg while the agent consults it, and how to report on it. */
  private consulting: { leg: OutboundLeg; progress: Progress } | undefined;

  /** The call is over: a slot that arrives after it is handed back at once. */
  private closed = false;

  constructor(private readonly host: TransferHost) {}

  get busy(): boolean {
    return this.active;
  }

  async start(request: TransferRequest): Promise<void> {
    const { host } = this;
    const progress: Progress = (state, extra = {}) =>
      host.report({
        type: 'transfer.progress',
        target: request.target,
        mode: request.mode,
        state,
        ...extra,
      });
    if (this.active) return progress('failed', { reason: 'a transfer is already in progress' });
    const device = await host.findDevice(request.target);
    if (device) return this.toDevice(device, request, progress);
    const egress = host.egress;
    if (!egress) return progress('failed', { reason: 'the endpoint has no egress base number' });
    const verdict = checkTransferTarget(request.target, host.policy, egress.number);
    if (!verdict.ok) {
      host.log.warn({ target: request.target, reason: verdict.reason }, 'transfer target refused');
      return progress('failed', { reason: `target refused: ${verdict.reason}` });
    }
    this.active = true;
    const slot = await egress.acquireSlot();
    if (!slot || this.closed) {
      slot?.release();
      this.active = false;
      if (this.closed) return;
      return progress('failed', { sipStatus: 503, reason: 'egress trunk at its call cap' });
    }
    this.slot = slot;
    const uri = verdict.number
      ? `sip:${verdict.number}@${egress.host}:${egress.port}`
      : request.target;
    host.log.info(
      { target: request.target, mode: request.mode, uri },
      'transfer requested by the agent',
    );
    progress('trying');
    try {
      if (request.mode === 'blind') await this.blind(uri, egress, progress);
      else await this.bridged(uri, egress, request, progress);
    } catch (err) {
      host.log.error({ err }, 'transfer failed');
      host.ringback(false);
      void this.close();
      progress('failed', { reason: `internal error: ${(err as Error).message}` });
    } finally {
      this.active = this.consulting !== undefined;
      if (!this.leg?.dialog) this.releaseSlot();
    }
  }

  /** Warm transfer: join the caller to the consulted target. */
  complete(): void {
    const consulting = this.consulting;
    if (!consulting) return;
    this.consulting = undefined;
    this.active = false;
    consulting.progress('completed', { sipStatus: 200 });
    this.host.bridge(consulting.leg);
  }

  /** Warm transfer: end the consultation, the caller is back with the agent. */
  cancel(reason = 'cancelled by the agent'): void {
    const consulting = this.consulting;
    if (!consulting) return;
    this.consulting = undefined;
    this.active = false;
    this.host.consult(null);
    void this.close('Q.850 ;cause=16 ;text="transfer cancelled"');
    consulting.progress('cancelled', { reason });
  }

  private async blind(uri: string, egress: EgressRoute, progress: Progress): Promise<void> {
    const dialog = this.host.callerDialog();
    if (!dialog) return progress('failed', { reason: 'the call is not answered' });
    const outcome = await dialog.refer(uri, {
      referredBy: `sip:${egress.number}@${egress.host}`,
      onProgress: (status) => {
        if (status >= 180 && status < 200) progress('ringing', { sipStatus: status });
      },
    });
    const final = outcome.finalStatus;
    if (outcome.status === 202 && final !== undefined && final >= 200 && final < 300) {
      progress('completed', { sipStatus: final });
      this.host.handedOver();
      return;
    }
    progress('failed', {
      sipStatus: final ?? outcome.status,
      reason: outcome.status !== 202 ? 'REFER refused' : 'the transfer target did not answer',
    });
  }

  private async bridged(
    uri: string,
    egress: EgressRoute,
    request: TransferRequest,
    progress: Progress,
  ): Promise<void> {
    const placed = await this.placeForked(
      [
        {
          uri,
          // A device's call goes out as the number and name its config gives it.
          from: `sip:${this.host.identity.presentAs?.number ?? egress.number}@${egress.host}`,
          ...(this.host.identity.presentAs?.display && {
            fromDisplayName: this.host.identity.presentAs.display,
          }),
          transport: egress.transport,
          headers: [
            ...egressIdentityHeaders(
              egress.callerIdentity,
              this.host.identity,
              this.host.dialed,
              egress.host,
              uri,
            ),
            ...request.headers,
          ],
          credentials: egress.credentials,
        },
      ],
      request,
      progress,
    );
    if (placed) this.answered(placed, request, progress);
  }

  /**
   * A transfer to a registered device: every binding is called at once (RFC 3261 §16.7
   * forking, done by telgate), the first to answer is bridged and the others get CANCEL; 480
   * when none is registered. A device is reached only by telgate's own legs (it may sit behind
   * NAT, known only to telgate): a blind transfer to it fails.
   */
  private async toDevice(
    device: DeviceTarget,
    request: TransferRequest,
    progress: Progress,
  ): Promise<void> {
    if (request.mode === 'blind') {
      return progress('failed', { reason: 'a device is reached by a bridged or warm transfer' });
    }
    if (device.bindings.length === 0) {
      return progress('failed', { sipStatus: 480, reason: `${device.username} is not registered` });
    }
    this.active = true;
    this.host.log.info(
      { target: request.target, mode: request.mode, bindings: device.bindings.length },
      'transfer to a device requested by the agent',
    );
    progress('trying');
    // SDES keys travel only over TLS: an SRTP-only device is rung on its TLS bindings alone.
    // A browser's binding (WebSocket) takes WebRTC, which only calls on the main thread have.
    const webrtc = this.host.legDeps.webrtc;
    const bindings = device.bindings.filter((b) =>
      isWebSocket(b.source.transport)
        ? webrtc !== undefined
        : device.encryption !== 'required' || b.source.transport === 'tls',
    );
    if (bindings.length === 0) {
      this.active = false;
      return progress('failed', {
        sipStatus: 480,
        reason: device.bindings.every((b) => isWebSocket(b.source.transport))
          ? `${device.username} is registered only from browsers, which calls in call workers cannot reach (media.workers: 1)`
          : `${device.username} requires SRTP and is registered over no TLS connection`,
      });
    }
    const security = (b: DeviceTarget['bindings'][number]): MediaSecurity => ({
      encryption: device.encryption,
      suites: device.ciphers,
      keysAllowed: b.source.transport === 'tls',
    });
    try {
      const placed = await this.placeForked(
        bindings.map((b) => ({
          uri: b.contact,
          to: `sip:${device.username}@${b.source.address}`,
          // The caller's own address shows on the phone, unless the caller asked for privacy.
          from: this.host.identity.privacy
            ? 'sip:anonymous@anonymous.invalid'
            : this.host.callerUri,
          // Where its REGISTER came from, over its connection: NAT keeps that path open.
          nextHop: `sip:${b.source.address}:${b.source.port};transport=${b.source.transport}`,
          transport: b.source.transport,
          headers: request.headers,
        })),
        request,
        progress,
        bindings.map((b) => ({
          codecs: device.codecs,
          security: security(b),
          webrtc: isWebSocket(b.source.transport),
        })),
      );
      if (placed) this.answered(placed, request, progress);
    } catch (err) {
      this.host.log.error({ err }, 'transfer to a device failed');
      this.host.ringback(false);
      void this.close();
      progress('failed', { reason: `internal error: ${(err as Error).message}` });
    } finally {
      this.active = this.consulting !== undefined;
    }
  }

  /**
   * Places one leg per request at once; the first answered wins, the others are cancelled (or
   * get BYE if they answer too). Undefined, the failure reported, when none answered.
   */
  private async placeForked(
    requests: Array<Omit<OutgoingInviteRequest, 'sdp'>>,
    request: TransferRequest,
    progress: Progress,
    media: Array<{
      codecs: readonly SipCodecName[];
      security: MediaSecurity;
      webrtc: boolean;
    }> = [],
  ): Promise<OutboundLeg | undefined> {
    const legs = requests.map(
      (_, i) =>
        new OutboundLeg(
          media[i] ? { ...this.host.legDeps, codecs: media[i].codecs } : this.host.legDeps,
          media[i]?.security,
          media[i]?.webrtc ? this.host.legDeps.webrtc : undefined,
        ),
    );
    this.forks = legs;
    this.leg = legs[0];
    this.host.ringback(true);
    let last: { status: number; reason: string } = { status: 480, reason: 'no answer' };
    const winner = await new Promise<OutboundLeg | undefined>((resolve) => {
      let pending = legs.length;
      let decided = false;
      legs.forEach((leg, i) => {
        void leg
          .place(
            requests[i],
            (status) => progress('ringing', { sipStatus: status }),
            request.timeoutMs,
          )
          .then((result) => {
            if (result.ok && !decided) {
              decided = true;
              return resolve(leg);
            }
            if (result.ok) void leg.close('Q.850 ;cause=26 ;text="answered elsewhere"');
            else last = result;
            if (--pending === 0 && !decided) resolve(undefined);
          });
      });
    });
    this.forks = [];
    for (const leg of legs) {
      if (leg !== winner) void leg.close('Q.850 ;cause=26 ;text="answered elsewhere"');
    }
    if (!winner) {
      this.leg = undefined;
      this.host.ringback(false);
      progress('failed', { sipStatus: last.status, reason: last.reason });
      return undefined;
    }
    this.leg = winner;
    return winner;
  }

  /** The target answered: bridged at once, or consulted first (warm). */
  private answered(leg: OutboundLeg, request: TransferRequest, progress: Progress): void {
    progress('answered', { sipStatus: 200 });
    this.host.ringback(false);
    if (request.mode === 'warm') {
      this.consulting = { leg, progress };
      leg.dialog?.onEnd((cause) => {
        if (cause === 'remote-bye' && this.consulting?.leg === leg)
          this.cancel('the target hung up');
      });
      return this.host.consult(leg);
    }
    progress('completed', { sipStatus: 200 });
    this.host.bridge(leg);
  }

  /** Ends any leg (the call is ending). */
  close(reason?: string): Promise<void> {
    this.closed = true;
    const legs = new Set([...this.forks, ...(this.leg ? [this.leg] : [])]);
    this.leg = undefined;
    this.forks = [];
    this.consulting = undefined;
    this.releaseSlot();
    return Promise.all([...legs].map((leg) => leg.close(reason))).then(() => undefined);
  }

  private releaseSlot(): void {
    this.slot?.release();
    this.slot = undefined;
  }
}

/**
 * One call's RTP stream over a leased port. Symmetric RTP: outgoing packets go to the SDP
 * address until the caller's first packet arrives, then to wherever the caller's packets come
 * from (latching); with `strictSource`, packets from any other source are dropped instead.
 * Frames are encoded into one buffer per session, and each packet leaves as its own copy:
 * dgram's send to an address takes the datagram only on the next tick (after its address
 * lookup), so two frames sent in one tick (a catch-up after a stall, a digit) must not share
 * memory. Receiving parses in place. With SRTP (setSrtp) every packet is protected on its way
 * out and checked on its way in, RTCP too; a packet that fails the check is dropped.
 */
// Imported rather than global: V8 looks a global up on every read in a worker thread (perf).
import { Buffer } from 'node:buffer';
import type { PortLease, PortPool } from './port-pool.js';
import { newRtpHeader, readRtpHeader, writeRtpHeader, type RtpHeader } from './rtp-packet.js';
import type { SrtpReceiver, SrtpSender } from './srtp.js';

/** SRTP for a session: what it sends is protected, what arrives is checked and decrypted. */
export interface SrtpPair {
  sender: SrtpSender;
  receiver: SrtpReceiver;
}

/**
 * Where a session's packets travel: a leased UDP port pair (udpPath), or a transport of its own
 * that encrypts on the way (WebRTC's DTLS-SRTP), whose far end SDP addresses do not move.
 */
export interface RtpPath {
  /** The local port SDP names (0 when the path's own SDP does). */
  readonly port: number;
  /** A fixed far end: latching and SDP addresses are ignored. */
  readonly remote?: { address: string; port: number };
  /** The SSRC to send with, when the path's SDP already named it (WebRTC's a=ssrc). */
  readonly ssrc?: number;
  /** Everything that arrives: RTP, and RTCP (on the RTP port when muxed). */
  listen(
    onPacket: (packet: Buffer, address: string, port: number) => void,
    onRtcp: (packet: Buffer, address: string, port: number) => void,
  ): void;
  sendRtp(packet: Buffer, port: number, address: string): void;
  /** RTCP, on the RTCP port (or the RTP port with `muxed`). */
  sendRtcp(packet: Buffer, port: number, address: string, muxed: boolean): void;
  /** Stops delivering and gives the path back. */
  release(): void;
}

/** The path of a leased port pair (RTP on the port, RTCP on port + 1). */
export function udpPath(pool: PortPool, lease: PortLease): RtpPath {
  return {
    port: lease.port,
    listen(onPacket, onRtcp) {
      lease.socket.on('message', (packet, rinfo) => onPacket(packet, rinfo.address, rinfo.port));
      lease.socket.on('error', () => undefined); // ICMP unreachable while the caller is gone
      lease.rtcpSocket.on('message', (packet, rinfo) => onRtcp(packet, rinfo.address, rinfo.port));
      lease.rtcpSocket.on('error', () => undefined);
    },
    sendRtp: (packet, port, address) => lease.socket.send(packet, port, address),
    sendRtcp: (packet, port, address, muxed) =>
      (muxed ? lease.socket : lease.rtcpSocket).send(packet, port, address),
    release() {
      lease.socket.removeAllListeners('message');
      lease.rtcpSocket.removeAllListeners('message');
      pool.release(lease);
    },
  };
}

export interface RtpSessionOptions {
  remoteAddress: string;
  remotePort: number;
  payloadType: number;
  /** RTP clock ticks per outgoing frame (160 for 20 ms at 8000 Hz). */
  samplesPerFrame: number;
  maxPayloadBytes: number;
  strictSource?: boolean;
}

export interface RtpReceiver {
  /** `payload` is a view into the datagram: copy it if it must outlive the call. */
  onRtp(header: RtpHeader, payload: Buffer): void;
  /** An RTCP packet, from port + 1 or (rtcp-mux) the RTP port. */
  onRtcp?(packet: Buffer): void;
}

export interface RtpCounters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: number;
  lastPacketAt: number;
}

export class RtpSession {
  private remoteAddress: string;
  private remotePort: number;
  private latched = false;
  private sequence = (Math.random() * 0xffff) | 0;
  private timestamp = (Math.random() * 0xffffffff) >>> 0;
  private readonly ssrc: number;
  private readonly sendBuffer: Buffer;
  /** The payload area of sendBuffer, and the packet as last sent: views kept, not made per packet. */
  private readonly payloadView: Buffer;
  private packetView: Buffer;
  private readonly header = newRtpHeader();
  private markerPending = true;
  private closed = false;
  private payloadType: number;
  /** RTP timestamp increment per frame: the codec's clock, not its audio rate (G.722). */
  private samplesPerFrame: number;
  /** False while the far side holds the call (sendonly/inactive offer): nothing is sent. */
  sending = true;
  /** RTCP on the RTP port (RFC 5761), when both sides said a=rtcp-mux. */
  rtcpMux = false;
  private rtcpRemote: { address: string; port: number } | undefined;
  private srtp: SrtpPair | undefined;
  readonly counters: RtpCounters = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: 0,
    lastPacketAt: 0,
  };

  constructor(
    private readonly path: RtpPath,
    private readonly options: RtpSessionOptions,
    private readonly receiver: RtpReceiver,
  ) {
    this.remoteAddress = path.remote?.address ?? options.remoteAddress;
    this.remotePort = path.remote?.port ?? options.remotePort;
    this.latched = path.remote !== undefined;
    this.ssrc = path.ssrc ?? (Math.random() * 0xffffffff) >>> 0;
    this.payloadType = options.payloadType;
    this.samplesPerFrame = options.samplesPerFrame;
    this.sendBuffer = Buffer.alloc(12 + options.maxPayloadBytes);
    this.payloadView = this.sendBuffer.subarray(12);
    this.packetView = this.sendBuffer.subarray(0, 12);
    path.listen(
      (packet, address, port) => this.receive(packet, address, port),
      (packet, address, port) => {
        this.rtcpRemote = { address, port };
        this.receiveRtcp(packet);
      },
    );
  }

  get ssrcOut(): number {
    return this.ssrc;
  }

  /** From now on SRTP (or plain RTP again, undefined). */
  setSrtp(srtp: SrtpPair | undefined): void {
    this.srtp = srtp;
  }

  /** Why SRTP packets were dropped (authentication, replay, malformed), if SRTP is on. */
  get srtpDrops(): SrtpReceiver['drops'] | undefined {
    return this.srtp?.receiver.drops;
  }

  /** Sends an RTCP packet: on the RTP port with rtcp-mux, else from port + 1 to the far RTCP. */
  sendRtcp(plain: Buffer): void {
    if (this.closed || (this.remotePort <= 9 && !this.path.remote)) return;
    const packet = this.srtp ? this.srtp.sender.protectRtcp(plain) : plain;
    if (this.rtcpMux) {
      this.path.sendRtcp(packet, this.remotePort, this.remoteAddress, true);
      return;
    }
    const to = this.rtcpRemote ?? { address: this.remoteAddress, port: this.remotePort + 1 };
    this.path.sendRtcp(packet, to.port, to.address, false);
  }

  get localPort(): number {
    return this.path.port;
  }

  get remote(): { address: string; port: number; latched: boolean } {
    return { address: this.remoteAddress, port: this.remotePort, latched: this.latched };
  }

  /**
   * A new remote address from a re-INVITE or an answer: packets go there, and latching starts
   * over so a caller behind NAT is found again.
   */
  setRemote(address: string, port: number): void {
    if (this.path.remote) return;
    if (address === this.remoteAddress && port === this.remotePort) return;
    this.remoteAddress = address;
    this.remotePort = port;
    this.latched = false;
  }

  /** A codec change: the next frame carries the new payload type and a marker bit. */
  setPayloadType(payloadType: number, samplesPerFrame = this.samplesPerFrame): void {
    this.samplesPerFrame = samplesPerFrame;
    if (payloadType === this.payloadType) return;
    this.payloadType = payloadType;
    this.markerPending = true;
  }

  private receiveRtcp(packet: Buffer): void {
    const plain = this.srtp ? this.srtp.receiver.unprotectRtcp(packet) : packet;
    if (plain) this.receiver.onRtcp?.(plain);
  }

  private receive(wire: Buffer, address: string, port: number): void {
    // RFC 5761 §4: payload types 64–95 with the marker are RTCP (SR 200 … 223) on a muxed port.
    const second = wire.length > 1 ? wire[1] : 0;
    if (second >= 192 && second <= 223) return this.receiveRtcp(wire);
    const packet = this.srtp ? this.srtp.receiver.unprotectRtp(wire) : wire;
    if (!packet || !readRtpHeader(packet, this.header)) {
      this.counters.dropped++;
      return;
    }
    if (!this.path.remote && (address !== this.remoteAddress || port !== this.remotePort)) {
      if (this.latched && this.options.strictSource) {
        this.counters.dropped++;
        return;
      }
      this.remoteAddress = address;
      this.remotePort = port;
    }
    this.latched = true;
    this.counters.packetsIn++;
    this.counters.bytesIn += packet.length;
    this.counters.lastPacketAt = Date.now();
    const h = this.header;
    this.receiver.onRtp(h, packet.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength));
  }

  /** The payload area of the send buffer, to encode into before send(). */
  get payloadBuffer(): Buffer {
    return this.payloadView;
  }

  /** The RTP timestamp the next frame will carry. */
  get nextTimestamp(): number {
    return this.timestamp;
  }

  /**
   * No packet for `ms` beyond the usual frame time (a talkspurt that starts late): the next
   * frame's timestamp says so, and its marker starts the talkspurt (RFC 3551 §4.1).
   */
  skipMs(ms: number): void {
    if (ms <= 0) return;
    this.timestamp = (this.timestamp + Math.round((ms * this.samplesPerFrame) / 20)) >>> 0;
    this.markerPending = true;
  }

  /** Sends `payloadLength` bytes already written into payloadBuffer, as the next frame. */
  send(payloadLength: number): void {
    this.transmit(this.payloadType, this.markerPending, this.timestamp, payloadLength);
  }

  /**
   * Sends another payload type in this frame's slot (an RFC 4733 event): its own timestamp
   * (the event's start), the stream's sequence numbers; the frame clock moves on as usual.
   */
  sendInSlot(payloadType: number, payload: Buffer, marker: boolean, timestamp: number): void {
    payload.copy(this.sendBuffer, 12);
    this.transmit(payloadType, marker, timestamp, payload.length);
  }

  /**
   * A comfort noise packet (RFC 3389) in this frame's slot, `level` in −dBov; the audio after it
   * starts a talkspurt, so it carries the marker bit.
   */
  sendComfortNoise(payloadType: number, level: number): void {
    this.sendBuffer[12] = level;
    this.transmit(payloadType, false, this.timestamp, 1);
    this.markerPending = true;
  }

  private transmit(payloadType: number, marker: boolean, timestamp: number, length: number): void {
    if (this.closed) return;
    if (!this.sending) {
      // On hold the clock runs on, so the first frame after resume has a truthful timestamp.
      this.timestamp = (this.timestamp + this.samplesPerFrame) >>> 0;
      this.markerPending = true;
      return;
    }
    writeRtpHeader(this.sendBuffer, payloadType, marker, this.sequence, timestamp, this.ssrc);
    if (payloadType === this.payloadType) this.markerPending = false;
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + this.samplesPerFrame) >>> 0;
    this.counters.packetsOut++;
    this.counters.bytesOut += 12 + length;
    if (this.packetView.length !== 12 + length) {
      this.packetView = this.sendBuffer.subarray(0, 12 + length); // a frame size changed
    }
    let packet: Buffer;
    if (this.srtp) packet = this.srtp.sender.protectRtp(this.packetView);
    else {
      packet = Buffer.allocUnsafe(12 + length); // from Node's pool: cheap at this size
      packet.set(this.packetView);
    }
    this.path.sendRtp(packet, this.remotePort, this.remoteAddress);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.path.release();
  }
}
